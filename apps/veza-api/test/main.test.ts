import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runEntry, startEntry } from '../../../test/support/entry-process';

const MAIN = 'apps/veza-api/src/main.ts';
const SECRET = 'Pa55-never-logged';
// Port 9 (discard) has no listener on loopback: status must still answer.
const DATABASE_URL = `postgres://veza:${SECRET}@127.0.0.1:9/veza`;

test('main binds HOST:PORT, logs one start line without the database password, and exits 0 on SIGTERM', async (t) => {
  const release = 'c'.repeat(40);
  const entry = startEntry(t, MAIN, { PORT: '0', HOST: '127.0.0.1', DATABASE_URL, VEZA_RELEASE_SHA: release, VEZA_COLOR: 'blue', VEZA_ENV: 'staging' });
  const [line, port] = await entry.waitFor(/^veza-api start listen=127\.0\.0\.1:(\d+) release=\S+ color=\S+ env=\S+$/m);
  assert.equal(line, `veza-api start listen=127.0.0.1:${port} release=${release} color=blue env=staging`);

  const status = await fetch(`http://127.0.0.1:${port}/api/v1/status`);
  const body = (await status.json()) as Record<string, unknown>;
  assert.equal(body.release, release);
  assert.equal(body.color, 'blue');

  entry.child.kill('SIGTERM');
  const done = await entry.exited;
  assert.equal(done.code, 0);
  assert.equal(done.stdout, `${line}\nveza-api stop signal=SIGTERM\n`);
  assert.doesNotMatch(done.stdout + done.stderr, new RegExp(SECRET));
});

test('main refuses a missing DATABASE_URL or a malformed colour with one line and exit 2', async () => {
  const noDb = await runEntry(MAIN, [], { PORT: '0' });
  assert.equal(noDb.code, 2);
  assert.match(noDb.stderr, /^veza-api: DATABASE_URL is not set — [^\n]+\n$/);

  const badColor = await runEntry(MAIN, [], { PORT: '0', DATABASE_URL, VEZA_COLOR: 'purple' });
  assert.equal(badColor.code, 2);
  assert.equal(badColor.stderr, 'veza-api: VEZA_COLOR="purple" is invalid — use blue or green\n');
  assert.doesNotMatch(badColor.stdout + badColor.stderr, new RegExp(SECRET));
});
