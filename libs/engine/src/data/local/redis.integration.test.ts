import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { createServer } from 'node:net';
import Redis from 'ioredis';
import { localDataEnv, localDataTier } from './testing/tier';
import { livePid } from './pids';
import { localRedis } from './redis';
import { VezaError } from '../../log/errors';

/**
 * Seed 001's Sentinel acceptance on real processes: three redis-server +
 * redis-sentinel on 127.79.61.21-23, the master killed hard by pid, a
 * Sentinel-aware client (ioredis) writing through the failover, the old
 * master back as a replica. The failover time is printed for BENCHMARKS.md,
 * never asserted.
 */
// down-after 2 s keeps the test short; the seed's 30 s failover-timeout is the default.
const sentinelEnv = () => localDataEnv('redis-sentinel', '127.79.61', { postgres: { port: 25701 }, redis: { topology: 'sentinel', port: 25710, sentinel: { port: 25720, downAfterMs: 2_000 } } });

type Endpoint = { host: string; port: number };

async function untilTrue<T>(what: string, attempts: number, fn: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < attempts; i++) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what}: not within ${attempts} tries`);
}

async function masterOf(sentinel: Endpoint, password: string, name: string): Promise<Endpoint> {
  const [host, port] = (await withNode(sentinel, password, (c) => c.call('SENTINEL', 'get-master-addr-by-name', name))) as [string, string];
  return { host, port: Number(port) };
}

/** One short connection to one node (or sentinel), closed whatever happens. */
async function withNode<T>(node: Endpoint, password: string, fn: (c: Redis) => Promise<T>): Promise<T> {
  const c = new Redis({ ...node, password, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  try {
    await c.connect();
    return await fn(c);
  } finally {
    c.disconnect();
  }
}

function replication(node: Endpoint, password: string): Promise<Record<string, string>> {
  return withNode(node, password, async (c) => Object.fromEntries((await c.info('replication')).split('\r\n').filter((l) => l.includes(':')).map((l) => l.split(':', 2) as [string, string])));
}

test('sentinel: the master killed by pid fails over, a Sentinel-aware client writes again, the old master rejoins as a replica, as the sentinels tell infra-data:status', async (t) => {
  const env = sentinelEnv();
  const { tier, log, dataRoot } = await localDataTier(t, env);

  await tier().provision();
  const redis = localRedis(env, dataRoot)!;
  const [n0, n1, n2] = redis.nodes;
  for (const n of redis.nodes) {
    assert.ok(livePid(n.files.pidfile, 'redis'), `redis node ${n.index} runs`);
    assert.ok(livePid(n.files.sentinelPidfile, 'redis'), `sentinel ${n.index} runs`);
    assert.equal((await fs.stat(n.sentinelConf)).mode & 0o777, 0o600, 'the sentinel file holds the password: 0600');
    assert.equal((await fs.stat(n.redisConf)).mode & 0o777, 0o600);
  }

  const vars = await tier().serviceEnv!();
  assert.equal(vars.REDIS_SENTINEL_ADDRS, redis.nodes.map((n) => `${n.host}:25720`).join(','));
  assert.equal(vars.REDIS_SENTINEL_MASTER_NAME, 'veza-master');
  const password = vars.REDIS_SENTINEL_PASSWORD!;
  assert.ok(!log.lines.some((l) => l.includes(password)), 'the password never reaches the log');
  for (const n of redis.nodes) {
    const argv = (await fs.readFile(`/proc/${livePid(n.files.pidfile, 'redis')}/cmdline`, 'utf8')).split('\0');
    assert.ok(!argv.some((a) => a.includes(password)), 'the password is not in any argv');
  }
  const sentinels = vars.REDIS_SENTINEL_ADDRS.split(',').map((a) => ({ host: a.split(':')[0]!, port: Number(a.split(':')[1]) }));
  assert.deepEqual(await masterOf(sentinels[0]!, password, 'veza-master'), { host: n0!.host, port: 25710 }, 'the first node is the initial master');
  await untilTrue('both replicas attached', 100, async () => ((await replication(n0!, password)).connected_slaves === '2' ? true : undefined));

  const app = new Redis({ sentinels, name: 'veza-master', sentinelPassword: password, password, maxRetriesPerRequest: 1, retryStrategy: (n) => (n > 300 ? null : 100), sentinelRetryStrategy: (n) => (n > 300 ? null : 100) });
  app.on('error', () => undefined); // reconnects during the failover are expected; each command's own result is what the test reads
  t.after(() => app.disconnect());
  await app.set('before', 'failover');
  await app.wait(2, 2_000);

  // A second provision while everything runs changes nothing, and never touches a running sentinel's file.
  const sentinelFiles = await Promise.all(redis.nodes.map((n) => fs.readFile(n.sentinelConf, 'utf8')));
  const again = await tier().provision();
  assert.deepEqual(again.steps.filter((s) => s.title.includes('redis') || s.title.includes('sentinel')).map((s) => s.kind), ['mkdir', 'mkdir', 'mkdir']);
  assert.deepEqual(await Promise.all(redis.nodes.map((n) => fs.readFile(n.sentinelConf, 'utf8'))), sentinelFiles);

  const killedPid = livePid(n0!.files.pidfile, 'redis')!;
  const started = process.hrtime.bigint();
  process.kill(killedPid, 'SIGKILL');
  const promoted = await untilTrue('a new master', 600, async () => {
    const m = await masterOf(sentinels[1]!, password, 'veza-master');
    return m.host !== n0!.host ? m : undefined;
  });
  const elected = process.hrtime.bigint();
  await untilTrue('a write through the Sentinel-aware client', 300, async () => ((await app.set('after', 'failover')) === 'OK' ? true : undefined));
  const writable = process.hrtime.bigint();
  const ms = (a: bigint) => Number((a - started) / 1_000_000n);
  console.log(`# sentinel failover: new master after ${ms(elected)} ms, first write through the client after ${ms(writable)} ms (down-after-milliseconds 2000)`);

  assert.ok([n1!.host, n2!.host].includes(promoted.host), 'a former replica is the new master');
  assert.equal(await app.get('before'), 'failover', 'what was written before the kill survives');
  assert.equal(await app.get('after'), 'failover');

  // The old master comes back through provision: as a replica of the master Sentinel chose, not as a second master.
  const back = await tier().provision();
  const master = await masterOf(sentinels[2]!, password, 'veza-master');
  assert.ok(back.steps.some((s) => s.title === `redis node 0 of ${env.name}: redis.conf (replica of ${master.host}:25710)`), back.steps.map((s) => s.title).join('\n'));
  const rejoined = await untilTrue('the old master replicating', 100, async () => {
    const r = await replication(n0!, password);
    return r.role === 'slave' && r.master_link_status === 'up' ? r : undefined;
  });
  assert.equal(rejoined.master_host, master.host);
  assert.equal(await untilTrue('the write on the old master', 100, () => withNode(n0!, password, async (c) => (await c.get('after')) ?? undefined)), 'failover');

  // infra-data:status asks the sentinels: all name the new master, and see the old one as a healthy replica (once their INFO refresh, every 10 s, saw it).
  const status = await untilTrue('the sentinels seeing the old master as a replica', 300, async () => {
    const r = (await tier().servicesStatus!()).redis;
    return r?.topology === 'sentinel' && r.replicas.some((x) => x.address === `${n0!.host}:25710` && x.linkStatus === 'ok' && !x.flags.includes('s_down')) ? r : undefined;
  });
  assert.equal(status.master, `${promoted.host}:25710`);
  assert.ok(status.agreed && status.sentinels.every((x) => x.master === status.master), JSON.stringify(status.sentinels));
  assert.deepEqual(status.replicas.map((x) => x.address).sort(), redis.nodes.filter((n) => n.host !== promoted.host).map((n) => `${n.host}:25710`).sort());
});

test('a redis port held by another process is refused by name before redis starts, and nothing of ours runs', async (t) => {
  const env = localDataEnv('redis-held', '127.79.68', { postgres: { port: 25731 }, redis: { port: 25735 } });
  const { tier, dataRoot } = await localDataTier(t, env);
  // A stranger on the node's address and port, as a leftover server of another run would be.
  const stranger = createServer((s) => s.end('-ERR not yours\r\n'));
  await new Promise<void>((resolve) => stranger.listen({ host: '127.79.68.21', port: 25735 }, resolve));
  t.after(() => new Promise<void>((resolve) => stranger.close(() => resolve())));
  await assert.rejects(tier().provision(), (e: unknown) => e instanceof VezaError && e.code === 'DATA_UNBINDABLE' && /cannot listen on 127\.79\.68\.21:25735 \(EADDRINUSE\)/.test(e.message) && /another process holds that port/.test(e.hint));
  assert.equal(livePid(localRedis(env, dataRoot)!.nodes[0]!.files.pidfile, 'redis'), undefined, 'no redis-server was started');
});
