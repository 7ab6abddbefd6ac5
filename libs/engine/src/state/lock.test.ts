import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDirStateStore, type StateStore } from '../ports/state-store';
import { createMemoryLogger } from '../log/logger';
import { isVezaError, type VezaError } from '../log/errors';
import { identify, isAlive } from '../util/proc';
import { acquireLock, edgeLock, envLock, forceUnlock, lockKey, readLock, releaseLock, withLock, type LockHolder } from './lock';

const PROD = envLock('prod');

const SHA = 'a'.repeat(40);

async function tempStore(t: TestContext): Promise<{ dir: string; store: StateStore }> {
  const dir = await mkdtemp(join(tmpdir(), 'veza-lock-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return { dir, store: createDirStateStore(dir) };
}

function startSleeper(t: TestContext): ChildProcess {
  const child = spawn('sleep', ['60'], { stdio: 'ignore' });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return child;
}

/** A pid that ran a moment ago and is gone now, with the start time it had. */
async function deadProcess(t: TestContext): Promise<{ pid: number; pidStart: string }> {
  const child = startSleeper(t);
  const id = identify(child.pid!)!;
  child.kill('SIGKILL');
  await once(child, 'exit');
  assert.equal(isAlive(id), false);
  return { pid: id.pid, pidStart: id.startTime };
}

function holderOf(fields: Partial<LockHolder>): LockHolder {
  const self = identify(process.pid)!;
  return {
    env: 'prod',
    action: 'deploy',
    user: 'alice',
    host: hostname(),
    pid: 999_999,
    pidStart: '1',
    bootId: self.bootId,
    startedAt: '2026-04-29T12:00:00.000Z',
    sha: SHA,
    token: 'f'.repeat(32),
    ...fields,
  };
}

async function plant(store: StateStore, h: LockHolder, key = lockKey(PROD)): Promise<void> {
  assert.equal(await store.createExclusive(key, JSON.stringify(h) + '\n'), true);
}

async function refusal(p: Promise<unknown>): Promise<VezaError> {
  try {
    await p;
  } catch (e) {
    assert.ok(isVezaError(e), `expected a VezaError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected the lock to be refused');
}

test('a second acquire fails at once, naming who holds the lock and what to do', async (t) => {
  const { store } = await tempStore(t);
  const first = await acquireLock(store, PROD, { action: 'deploy', sha: SHA, user: 'alice' });
  const err = await refusal(acquireLock(store, PROD, { action: 'rollback', user: 'bob' }));
  assert.equal(err.code, 'LOCKED');
  for (const part of ['prod is locked', 'deploy', SHA, 'alice', `pid ${process.pid}`, first.holder.startedAt, 'still running']) {
    assert.ok(err.message.includes(part), `message lacks ${part}: ${err.message}`);
  }
  assert.match(err.hint, /wait for it.*nx run infra-deploy:unlock --env=prod/);
  assert.equal((await readLock(store, PROD))?.token, first.holder.token);
});

test('a lock whose process is dead is taken over, with a warning naming the stale holder', async (t) => {
  const { store } = await tempStore(t);
  const dead = await deadProcess(t);
  await plant(store, holderOf({ pid: dead.pid, pidStart: dead.pidStart, user: 'crashed-ci' }));
  const logger = createMemoryLogger();
  const lock = await acquireLock(store, PROD, { action: 'deploy', sha: SHA }, { logger });
  assert.equal((await readLock(store, PROD))?.token, lock.holder.token);
  assert.equal(logger.lines.length, 1);
  assert.match(logger.lines[0]!, new RegExp(`warn: took over the stale prod deploy lock: deploy of ${SHA} by crashed-ci .*pid ${dead.pid}.*no longer running`));
});

test('a reused pid (same number, other start time) and a rebooted host count as stale', async (t) => {
  const { store } = await tempStore(t);
  const logger = createMemoryLogger();
  await plant(store, holderOf({ pid: process.pid, pidStart: '1' }));
  const a = await acquireLock(store, PROD, { action: 'deploy' }, { logger });
  assert.equal((await readLock(store, PROD))?.token, a.holder.token);
  assert.match(logger.lines[0]!, new RegExp(`pid ${process.pid} is no longer running`));
  await a.release();

  await plant(store, holderOf({ pid: process.pid, pidStart: identify(process.pid)!.startTime, bootId: 'another-boot' }));
  const b = await acquireLock(store, PROD, { action: 'deploy' }, { logger });
  assert.equal((await readLock(store, PROD))?.token, b.holder.token);
  assert.match(logger.lines[1]!, /has rebooted since/);
});

test('a live holder is never taken over', async (t) => {
  const { store } = await tempStore(t);
  const live = startSleeper(t);
  const planted = holderOf({ pid: live.pid!, pidStart: identify(live.pid!)!.startTime });
  await plant(store, planted);
  const err = await refusal(acquireLock(store, PROD, { action: 'deploy' }));
  assert.match(err.message, new RegExp(`pid ${live.pid} is still running`));
  assert.equal((await readLock(store, PROD))?.token, planted.token);
});

test('a holder on another host is refused, saying it cannot be checked from here', async (t) => {
  const { store } = await tempStore(t);
  const dead = await deadProcess(t);
  await plant(store, holderOf({ host: 'runner-7', pid: dead.pid }));
  const err = await refusal(acquireLock(store, PROD, { action: 'deploy' }));
  assert.match(err.message, /on runner-7.*runs on host runner-7, whose processes cannot be checked from/);
  assert.match(err.hint, /if you are sure it is dead: nx run infra-deploy:unlock --env=prod/);
  assert.equal((await readLock(store, PROD))?.host, 'runner-7');
});

test('release removes only our own lock', async (t) => {
  const { store } = await tempStore(t);
  const lock = await acquireLock(store, PROD, { action: 'deploy' });
  assert.equal(await releaseLock(store, PROD, '0'.repeat(32)), false);
  assert.equal((await readLock(store, PROD))?.token, lock.holder.token);

  // Force-unlocked and re-taken by someone else: our late release must not free their lock.
  assert.equal((await forceUnlock(store, PROD))?.token, lock.holder.token);
  const other = await acquireLock(store, PROD, { action: 'rollback' });
  assert.equal(await lock.release(), false);
  assert.equal((await readLock(store, PROD))?.token, other.holder.token);
  assert.equal(await other.release(), true);
  assert.equal(await readLock(store, PROD), undefined);
  assert.equal(await forceUnlock(store, PROD), undefined);
});

test('different environments never block each other', async (t) => {
  const { store } = await tempStore(t);
  const prod = await acquireLock(store, PROD, { action: 'deploy' });
  const staging = await acquireLock(store, envLock('staging'), { action: 'deploy' });
  assert.notEqual(prod.holder.token, staging.holder.token);
  await refusal(acquireLock(store, envLock('staging'), { action: 'cleanup' }));
  assert.equal(await prod.release(), true);
  assert.equal((await readLock(store, envLock('staging')))?.token, staging.holder.token);
});

test('withLock releases the lock when the work throws', async (t) => {
  const { store } = await tempStore(t);
  await assert.rejects(withLock(store, PROD, { action: 'deploy' }, async () => {
    assert.ok(await readLock(store, PROD));
    throw new Error('boom');
  }), /boom/);
  assert.equal(await readLock(store, PROD), undefined);
});

test('bad input and a corrupt lock file give one clear error', async (t) => {
  const { store } = await tempStore(t);
  assert.throws(() => envLock('Prod!'), /invalid environment name/);
  assert.throws(() => edgeLock('../x'), /invalid edge name/);
  await assert.rejects(acquireLock(store, PROD, { action: 'deploy', sha: 'HEAD' }), /invalid version/);
  await store.write(lockKey(PROD), 'not json');
  const err = await refusal(acquireLock(store, PROD, { action: 'deploy' }));
  assert.equal(err.code, 'LOCK_INVALID');
  assert.match(err.message, /is not a valid lock/);
  assert.match(err.hint, /nx run infra-deploy:unlock --env=prod/);
});

test('an environment named edge-<x> and the <x> edge hold two different locks', async (t) => {
  const { store } = await tempStore(t);
  const env = await acquireLock(store, envLock('edge-main'), { action: 'deploy' });
  const edge = await acquireLock(store, edgeLock('main'), { action: 'switch' });
  assert.notEqual(lockKey(envLock('edge-main')), lockKey(edgeLock('main')));
  assert.equal((await readLock(store, envLock('edge-main')))?.token, env.holder.token);
  assert.equal((await readLock(store, edgeLock('main')))?.token, edge.holder.token);
  assert.ok('edge' in edge.holder && edge.holder.edge === 'main', 'the holder file names the edge it locks');
});

test('a held edge lock names the edge, and the way out is its file, not the environment unlock command', async (t) => {
  const { store } = await tempStore(t);
  await acquireLock(store, edgeLock('main'), { action: 'switch', user: 'alice' });
  const err = await refusal(acquireLock(store, edgeLock('main'), { action: 'switch' }));
  assert.equal(err.code, 'LOCKED');
  assert.match(err.message, /^the main edge is locked by a switch by alice/);
  assert.ok(err.hint.endsWith(`remove ${store.location}/locks/edges/main.lock`), err.hint);
});

test('a taker killed in the middle of a takeover does not block the next one', async (t) => {
  const { dir, store } = await tempStore(t);
  const dead = await deadProcess(t);
  const stale = holderOf({ pid: dead.pid, pidStart: dead.pidStart });
  await plant(store, stale);
  // The killed taker had claimed the stale lock's takeover marker and died before removing the lock.
  await plant(store, holderOf({ pid: dead.pid, pidStart: dead.pidStart, token: 'e'.repeat(32), action: 'rollback' }), `${lockKey(PROD)}.takeover-${stale.token}`);
  const lock = await acquireLock(store, PROD, { action: 'deploy' });
  assert.equal((await readLock(store, PROD))?.token, lock.holder.token);
  assert.deepEqual(await readdir(join(dir, 'locks')), ['prod.lock']);
});

/** Starts `n` contender processes, fires them together with `inProcess` local attempts, returns every winning token. */
async function race(t: TestContext, dir: string, store: StateStore, children: number, perChild: number, inProcess: number): Promise<string[]> {
  const procs = Array.from({ length: children }, () => {
    const child = spawn(process.execPath, ['--require', '@swc-node/register', join(__dirname, 'testing', 'lock-contender.ts'), dir, 'prod', String(perChild)], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    t.after(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    return { child, lines: createInterface({ input: child.stdout! })[Symbol.asyncIterator]() };
  });
  for (const p of procs) assert.equal((await p.lines.next()).value, 'ready');
  for (const p of procs) p.child.stdin!.write('go\n');
  const local = await Promise.allSettled(Array.from({ length: inProcess }, () => acquireLock(store, PROD, { action: 'deploy' })));
  const tokens: string[] = [];
  for (const r of local) {
    if (r.status === 'fulfilled') tokens.push(r.value.holder.token);
    else assert.equal((r.reason as VezaError).code, 'LOCKED', String(r.reason));
  }
  for (const p of procs) {
    const result = JSON.parse((await p.lines.next()).value as string) as { tokens: string[]; errors: { code: string; message: string }[] };
    tokens.push(...result.tokens);
    for (const e of result.errors) assert.equal(e.code, 'LOCKED', e.message);
  }
  for (const p of procs) {
    p.child.stdin!.end();
    await once(p.child, 'exit');
  }
  return tokens;
}

test('ten acquisitions at once in one process: exactly one wins', async (t) => {
  const { store } = await tempStore(t);
  const results = await Promise.allSettled(Array.from({ length: 10 }, () => acquireLock(store, PROD, { action: 'deploy' })));
  const won = results.filter((r) => r.status === 'fulfilled');
  assert.equal(won.length, 1, JSON.stringify(results.map((r) => r.status === 'rejected' ? String(r.reason) : 'won')));
  assert.equal((await readLock(store, PROD))?.token, (won[0] as PromiseFulfilledResult<{ holder: LockHolder }>).value.holder.token);
});

test('acquisitions racing across three processes and this one: exactly one wins', async (t) => {
  const { dir, store } = await tempStore(t);
  const tokens = await race(t, dir, store, 3, 3, 4);
  assert.equal(tokens.length, 1);
  assert.equal((await readLock(store, PROD))?.token, tokens[0]);
});

test('racing to take over the same stale lock: exactly one wins and no marker is left', async (t) => {
  const { dir, store } = await tempStore(t);
  const dead = await deadProcess(t);
  await plant(store, holderOf({ pid: dead.pid, pidStart: dead.pidStart }));
  const tokens = await race(t, dir, store, 3, 3, 4);
  assert.equal(tokens.length, 1);
  assert.equal((await readLock(store, PROD))?.token, tokens[0]);
  assert.deepEqual(await readdir(join(dir, 'locks')), ['prod.lock']);
});
