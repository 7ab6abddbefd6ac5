import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isVezaError } from '../log/errors';
import { createProcessRunner, formatArgv } from '../ports/process';
import { registerCommand, runnerLabels, type RunnerSpec } from './runner';

const TOKEN = 'reg-9f8e7d6c5b4a-TOKEN';
const spec: RunnerSpec = { instance: 'forgejo-runner', url: 'https://forgejo.example', labels: ['incus', 'self-hosted'], image: 'images:debian/13', network: 'net-veza', pool: 'default', profile: 'veza-app' };

/**
 * The registration command really runs (the Incus tier runs it against the
 * real daemon): here its first word is a script standing in for `incus`
 * that keeps its stdin and pauses, so the test can read every process's
 * argument list on this machine while it runs.
 */
test('the registration token reaches the runner on stdin and never any process argument list', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'veza-register-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const stub = join(dir, 'incus');
  await writeFile(stub, [
    '#!/bin/sh',
    `cat > ${dir}/stdin`,
    `touch ${dir}/running`,
    // Bounded: at most 10 s until the test has read /proc.
    `i=0; while [ ! -e ${dir}/scanned ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done`,
    '',
  ].join('\n'));
  await chmod(stub, 0o755);

  const cmd = registerCommand({ project: 'default' }, spec, TOKEN);
  assert.ok(!formatArgv(cmd.argv).includes(TOKEN));
  const run = createProcessRunner().run({ ...cmd, argv: [stub, ...cmd.argv.slice(1)] });

  for (let i = 0; i < 200 && !(await stat(join(dir, 'running')).catch(() => undefined)); i++) await sleep(50);
  let seen = 0;
  for (const pid of (await readdir('/proc')).filter((p) => /^\d+$/.test(p))) {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(stub)) seen++;
    assert.ok(!cmdline.includes(TOKEN), `the token is in the argument list of process ${pid}`);
  }
  assert.ok(seen > 0, 'the registration was running while /proc was read');
  await writeFile(join(dir, 'scanned'), '');
  await run;
  assert.equal(await readFile(join(dir, 'stdin'), 'utf8'), `https://forgejo.example\n${TOKEN}\nforgejo-runner\nincus:host,self-hosted:host\n`);
  assert.deepEqual(cmd.argv.slice(cmd.argv.indexOf('--')), ['--', 'forgejo-runner', 'register']);
});

test('labels: each becomes a host label; a space, a colon or none at all is refused', () => {
  assert.equal(runnerLabels(['incus', 'self-hosted']), 'incus:host,self-hosted:host');
  for (const bad of [['self hosted'], ['incus:docker'], [], ['Incus']]) {
    assert.throws(() => runnerLabels(bad), (e: unknown) => isVezaError(e) && e.code === 'INVALID_INPUT', JSON.stringify(bad));
  }
  assert.throws(() => registerCommand({ project: 'default' }, spec, ''), /token is empty/);
});
