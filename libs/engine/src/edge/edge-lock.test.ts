import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDirStateStore, type StateStore } from '../ports/state-store';
import { createMemoryLogger } from '../log/logger';
import { isVezaError } from '../log/errors';
import { acquireLock, edgeLock, lockKey, readLock } from '../state/lock';
import { withEdgeLock } from './edge-lock';

async function tempStore(t: TestContext): Promise<StateStore> {
  const dir = await mkdtemp(join(tmpdir(), 'veza-edge-lock-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return createDirStateStore(dir);
}

test('a switch waits for a live holder of the edge lock, then runs under the lock', async (t) => {
  const store = await tempStore(t);
  const held = await acquireLock(store, edgeLock('main'), { action: 'bootstrap' });
  const log = createMemoryLogger();
  let released = false;
  // The holder lets go once the waiter has said it is waiting, so the wait is certain to have happened.
  const write = log.info.bind(log);
  log.info = (msg, fields) => {
    write(msg, fields);
    if (!released && msg.startsWith('waiting for the main edge')) void held.release().then(() => (released = true));
  };
  const holderDuring = await withEdgeLock(store, 'main', { action: 'switch' }, log, () => readLock(store, edgeLock('main')));
  assert.equal(released, true);
  assert.equal(holderDuring?.action, 'switch');
  assert.equal(await readLock(store, edgeLock('main')), undefined, 'released after the switch');
});

test('a corrupt edge lock file fails at once by its code, without waiting', async (t) => {
  const store = await tempStore(t);
  await store.write(lockKey(edgeLock('main')), 'not json');
  const log = createMemoryLogger();
  await assert.rejects(withEdgeLock(store, 'main', { action: 'switch' }, log, async () => 'ran'), (e) => isVezaError(e) && e.code === 'LOCK_INVALID');
  assert.deepEqual(log.lines.filter((l) => l.includes('waiting for')), []);
});
