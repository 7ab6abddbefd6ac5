import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatSlotEnvFile } from './env-file';
import { EXEC_SCRIPT, executable, renderUnit, systemdWord } from './unit';

test('ExecStart words are quoted so systemd neither splits, expands nor unescapes them', () => {
  assert.equal(systemdWord('node'), '"node"');
  assert.equal(systemdWord('a b'), '"a b"');
  assert.equal(systemdWord('$HOME'), '"$$HOME"');
  assert.equal(systemdWord('50%'), '"50%%"');
  assert.equal(systemdWord('say "hi" \\ there'), '"say \\"hi\\" \\\\ there"');
  assert.throws(() => systemdWord('two\nlines'), /line break/);
});

test('the unit runs the component as its own user, hardened, its variables from the 0600 env file', () => {
  const unit = renderUnit({ component: 'veza-api', role: 'green', release: 'a'.repeat(40), command: ['node', 'server.js'] });
  for (const line of ['User=veza-api', 'Group=veza-api', 'WorkingDirectory=/srv/veza/app', 'EnvironmentFile=/etc/veza/slot.env', 'ExecStart="node" "server.js"',
    'NoNewPrivileges=yes', 'ProtectSystem=strict', 'ProtectHome=yes', 'PrivateTmp=yes', 'CapabilityBoundingSet=', 'StateDirectory=veza-api', 'WantedBy=multi-user.target']) {
    assert.ok(unit.split('\n').includes(line), `missing ${line} in\n${unit}`);
  }
  assert.match(unit, /^Description=veza-api \(green, release a{40}\)$/m);
});

test('an executable of the artifact is spelled from the app folder: systemd 257 refuses a relative ExecStart path', () => {
  const unit = renderUnit({ component: 'veza-api', role: 'green', release: 'a'.repeat(40), command: ['./veza-api', './x'] });
  assert.ok(unit.split('\n').includes('ExecStart="/srv/veza/app/veza-api" "./x"'), unit);
  assert.equal(executable('bin/server'), '/srv/veza/app/bin/server');
  assert.equal(executable('node'), 'node', 'a bare name is systemd\'s to look up');
  assert.equal(executable('/usr/bin/node'), '/usr/bin/node');
  assert.throws(() => executable('../../usr/bin/id'), /points outside the artifact/);
});

const TRICKY = { PLAIN: 'abc', QUOTES: `it's "quoted"`, DOLLAR: '$HOME and ${PATH} and `id`', BACKSLASH: 'a\\b\\\\c\\', NEWLINE: 'one\ntwo', EMPTY: '' };

test('the slot env file reads back exactly with sh, as the exec wrapper reads it', async (t) => {
  const dir = await fs.mkdtemp(join(tmpdir(), 'veza-incus-env-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'slot.env');
  await fs.writeFile(file, formatSlotEnvFile(TRICKY));
  const out = execFileSync('sh', ['-c', 'set -a; . "$1"; set +a; exec "$2" -e "process.stdout.write(JSON.stringify(Object.fromEntries(process.argv.slice(1).map((k) => [k, process.env[k]]))))" -- "$@"', 'sh', file, process.execPath, ...Object.keys(TRICKY)], { encoding: 'utf8' });
  const seen = JSON.parse(out) as Record<string, string>;
  delete (seen as Record<string, unknown>)[file];
  for (const [k, v] of Object.entries(TRICKY)) assert.equal(seen[k], v, k);
});

test('the env file is double-quoted with only \\ " $ and ` escaped, the form systemd reads the same way', () => {
  assert.equal(formatSlotEnvFile({ B: 'x"y', A: '$a`b\\' }), '# written by veza; mode 0600, holds secrets\nA="\\$a\\`b\\\\"\nB="x\\"y"\n');
  assert.throws(() => formatSlotEnvFile({ 'BAD-NAME': 'x' }), /invalid environment variable name/);
});

test('the exec wrapper reads both env files, removes the one-shot file and runs as the component user', { skip: process.getuid?.() !== 0 && 'needs root to drop privileges' }, async (t) => {
  const dir = await fs.mkdtemp(join(tmpdir(), 'veza-incus-exec-'));
  await fs.chmod(dir, 0o755);
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  const envFile = join(dir, 'slot.env');
  const extra = join(dir, 'extra.env');
  await fs.writeFile(envFile, formatSlotEnvFile({ DATABASE_URL: "postgresql://u:p'w@h/db" }), { mode: 0o600 });
  await fs.writeFile(extra, formatSlotEnvFile({ ONE_SHOT: 'yes' }), { mode: 0o600 });
  const out = execFileSync('sh', ['-c', EXEC_SCRIPT, 'veza-exec', envFile, extra, 'nobody', 'sh', '-c', 'printf "%s|%s|%s" "$(id -un)" "$DATABASE_URL" "$ONE_SHOT"'], { encoding: 'utf8' });
  assert.equal(out, "nobody|postgresql://u:p'w@h/db|yes");
  await assert.rejects(fs.stat(extra), { code: 'ENOENT' });
  assert.equal(execFileSync('sh', ['-c', EXEC_SCRIPT, 'veza-exec', envFile, '-', 'nobody', 'sh', '-c', 'printf %s "${ONE_SHOT:-unset}"'], { encoding: 'utf8' }), 'unset');
});
