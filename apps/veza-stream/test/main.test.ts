import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runEntry, startEntry } from '../../../test/support/entry-process';

const MAIN = 'apps/veza-stream/src/main.ts';

test('main binds HOST:PORT, logs one start line, serves, and exits 0 on SIGTERM', async (t) => {
  const release = 'e'.repeat(40);
  const entry = startEntry(t, MAIN, { PORT: '0', HOST: '127.0.0.1', VEZA_RELEASE_SHA: release, VEZA_COLOR: 'green', VEZA_ENV: 'prod' });
  const [line, port] = await entry.waitFor(/^veza-stream start listen=127\.0\.0\.1:(\d+) .*$/m);
  assert.equal(line, `veza-stream start listen=127.0.0.1:${port} release=${release} color=green env=prod`);
  const status = (await (await fetch(`http://127.0.0.1:${port}/stream/status`)).json()) as Record<string, unknown>;
  assert.equal(status.release, release);

  entry.child.kill('SIGTERM');
  const done = await entry.exited;
  assert.equal(done.code, 0);
  assert.equal(done.stdout, `${line}\nveza-stream stop signal=SIGTERM\n`);
});

test('main refuses a malformed release sha with one line and exit 2', async () => {
  const r = await runEntry(MAIN, [], { PORT: '0', VEZA_RELEASE_SHA: 'HEAD' });
  assert.equal(r.code, 2);
  assert.equal(r.stderr, 'veza-stream: VEZA_RELEASE_SHA="HEAD" is invalid — use a 40-hex git SHA or local-<12 hex>\n');
});
