import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { environmentSchema } from '@veza/engine/config/environment';
import { IncusClient } from '@veza/engine/hosts/incus/client';
import { createMemoryLogger } from '@veza/engine/log/logger';
import { createProcessRunner } from '@veza/engine/ports/process';
import { createDataTier } from '@veza/engine/data/tier';
import { ownProject } from './support/project';
import { until } from './support/until';

/**
 * Seed 001's Sentinel acceptance on real containers (issue 14): the Incus
 * data tier provisions `data.redis.topology: sentinel` in a project of its
 * own (veza-itest-sentinel) on the test bridge, from the tier's image, Debian's
 * redis-server and redis-sentinel installed by apt inside each container; a
 * second provision plans nothing; the master container is stopped hard
 * (`incus stop --force`) and the time until the sentinels name a new master
 * and a Sentinel-aware client (ioredis) writes again is printed for
 * BENCHMARKS.md (the seed's target: < 30 s); the old master, started again,
 * rejoins as a replica, as infra-data:status reports it. The project is
 * wiped before (leftovers) and after, pass or fail.
 */
const PROJECT = 'veza-itest-sentinel';
const PREFIX = 'veza-hs-';
const NODES = [1, 2, 3].map((n) => `${PREFIX}redis-${n}`);
const SECRETS = { VEZA_HS_POSTGRES_PASSWORD: `pg-${randomBytes(12).toString('base64url')}`, VEZA_HS_REDIS_PASSWORD: `redis-${randomBytes(12).toString('base64url')}$!%&` };

const env = environmentSchema.parse({
  name: 'sentinel-incus', driver: 'incus', prefix: PREFIX, network: 'vezatestbr0', publicHosts: ['localhost'], publicUrl: 'http://localhost:18499', edge: 'veza-hs-haproxy',
  registry: { url: 'file:.veza/registry', owner: 'veza' },
  incus: { project: PROJECT, image: 'veza-test-base', dnsSuffix: 'incus', storagePool: 'veza-test-btrfs' },
  data: { postgres: { passwordEnv: 'VEZA_HS_POSTGRES_PASSWORD' }, redis: { passwordEnv: 'VEZA_HS_REDIS_PASSWORD', topology: 'sentinel' } },
});

type Endpoint = { host: string; port: number };

/** One short connection to a node or a sentinel, closed whatever happens. */
async function withNode<T>(node: Endpoint, password: string, fn: (c: Redis) => Promise<T>): Promise<T> {
  const c = new Redis({ ...node, password, lazyConnect: true, connectTimeout: 1_000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  c.on('error', () => undefined);
  try {
    await c.connect();
    return await fn(c);
  } finally {
    c.disconnect();
  }
}

async function replication(node: Endpoint, password: string): Promise<Record<string, string>> {
  return withNode(node, password, async (c) => Object.fromEntries((await c.info('replication')).split('\r\n').filter((l) => l.includes(':')).map((l) => l.split(':', 2) as [string, string])));
}

test('sentinel on incus: three containers, a second provision plans nothing, the master stopped hard fails over, a Sentinel-aware client writes again, the old master rejoins as a replica', { timeout: 30 * 60_000 }, async (t) => {
  const started = Date.now();
  const say = await ownProject(t, env, SECRETS, 'sentinel-incus');
  const password = SECRETS.VEZA_HS_REDIS_PASSWORD;
  const runner = createProcessRunner();
  const client = new IncusClient(runner, PROJECT);
  const log = createMemoryLogger();
  const tier = () => createDataTier(env, { workspaceRoot: process.cwd(), runner, log });
  const addresses = new Map<string, string>();
  /** The containers' current addresses: this host does not resolve the bridge's DNS names the sentinels announce. */
  const refreshAddresses = async () => {
    for (const i of await client.instances()) if (i.ipv4[0]) addresses.set(`${i.name}.incus`, i.ipv4[0]);
  };
  const at = (name: string, port: number): Endpoint => ({ host: addresses.get(`${name}.incus`)!, port });

  const t0 = Date.now();
  const first = await tier().provision();
  say(`first provision: ${first.steps.length} steps in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  assert.ok(first.steps.some((s) => s.title === `install redis-server, redis-sentinel in ${NODES[0]}`), first.steps.map((s) => s.title).join('\n'));
  await refreshAddresses();

  await t.test('a second provision plans nothing', async () => {
    const again = await tier().provision();
    assert.deepEqual(again.steps.map((s) => s.title), []);
    assert.match(again.summary, /already provisioned: nothing to do/);
  });

  await t.test('the password is in no argv and no log; the files stay the redis user\'s, private', async () => {
    assert.ok(!log.lines.some((l) => l.includes(password)), 'the password never reaches the log');
    for (const ct of NODES) {
      const ps = await client.exec(ct, ['sh', '-c', 'for f in /proc/[0-9]*/cmdline; do tr "\\0" " " < "$f"; echo; done'], { check: true });
      assert.match(ps.stdout, /redis-server/);
      assert.match(ps.stdout, /redis-sentinel|\[sentinel\]/);
      assert.ok(!ps.stdout.includes(password.slice(0, 12)), `${ct}: the password is on a command line`);
      const stat = await client.exec(ct, ['stat', '-c', '%U %a', '/etc/redis/sentinel.conf', '/etc/redis/redis.conf'], { check: true });
      for (const line of stat.stdout.trim().split('\n')) assert.match(line, /^redis [67][04]0$/, `${ct}: ${line}`);
    }
  });

  const vars = await tier().serviceEnv!();
  assert.equal(vars.REDIS_SENTINEL_ADDRS, NODES.map((n) => `${n}.incus:26379`).join(','));
  assert.equal(vars.REDIS_SENTINEL_MASTER_NAME, 'veza-master');
  assert.equal(vars.REDIS_SENTINEL_PASSWORD, password);
  const sentinels = NODES.map((n) => at(n, 26379));
  const masterName = async (s: Endpoint) => ((await withNode(s, password, (c) => c.call('SENTINEL', 'get-master-addr-by-name', 'veza-master'))) as [string, string])[0];
  for (const s of sentinels) assert.equal(await masterName(s), `${NODES[0]}.incus`, 'the first node is the initial master, and the sentinels name it by its DNS name');
  const statusBefore = (await tier().servicesStatus!()).redis;
  assert.ok(statusBefore?.topology === 'sentinel' && statusBefore.agreed && statusBefore.master === `${NODES[0]}.incus:6379`, JSON.stringify(statusBefore));
  assert.deepEqual(statusBefore.replicas.map((r) => r.address).sort(), [`${NODES[1]}.incus:6379`, `${NODES[2]}.incus:6379`]);

  // What an app does: asks the sentinels for the master; the names they answer are mapped to the containers' addresses for this host.
  const app = new Redis({
    sentinels, name: 'veza-master', sentinelPassword: password, password, updateSentinels: false, connectTimeout: 1_000, maxRetriesPerRequest: 1,
    natMap: (key: string) => {
      const [host, port] = key.split(':');
      const ip = addresses.get(host!);
      return ip ? { host: ip, port: Number(port) } : null;
    },
    retryStrategy: (n) => (n > 600 ? null : 100), sentinelRetryStrategy: (n) => (n > 600 ? null : 100),
  });
  app.on('error', () => undefined); // reconnects during the failover are expected; each command's own result is what the test reads
  t.after(() => app.disconnect());
  assert.equal(await app.set('before', 'failover'), 'OK');
  assert.equal(await app.wait(2, 5_000), 2, 'both replicas acknowledge the write');

  const stopped = process.hrtime.bigint();
  await client.run({ argv: ['incus', 'stop', '--force', NODES[0]!, '--project', PROJECT], input: '', timeoutMs: 60_000, description: `stop ${NODES[0]} hard` });
  const stopMs = Number((process.hrtime.bigint() - stopped) / 1_000_000n);
  const promoted = await until('a new master named by the sentinels', 600, 100, async () => {
    const m = await masterName(sentinels[1]!);
    return m !== `${NODES[0]}.incus` ? m : undefined;
  });
  const elected = process.hrtime.bigint();
  await until('a write through the Sentinel-aware client', 600, 100, async () => ((await app.set('after', 'failover')) === 'OK' ? true : undefined));
  const writable = process.hrtime.bigint();
  const ms = (a: bigint) => Number((a - stopped) / 1_000_000n);
  console.log(`# sentinel failover on incus: incus stop --force took ${stopMs} ms; new master ${promoted} after ${ms(elected)} ms, first write through the client after ${ms(writable)} ms (down-after-milliseconds 5000, failover-timeout 30000)`);
  assert.ok([`${NODES[1]}.incus`, `${NODES[2]}.incus`].includes(promoted), 'a former replica is the new master');
  assert.ok(ms(writable) < 30_000, `the seed's target: failover under 30 s (took ${ms(writable)} ms)`);
  assert.equal(await app.get('before'), 'failover', 'what was written before the stop survives');

  await t.test('the old master, started again, rejoins as a replica of the new one; a provision then plans nothing', async () => {
    await client.run({ argv: ['incus', 'start', NODES[0]!, '--project', PROJECT], input: '', timeoutMs: 120_000, description: `start ${NODES[0]}` });
    await until(`${NODES[0]} has an address`, 120, 1_000, async () => {
      await refreshAddresses();
      return (await client.instances()).find((i) => i.name === NODES[0])?.ipv4[0];
    });
    const rejoined = await until('the old master replicating', 120, 500, async () => {
      const r = await replication(at(NODES[0]!, 6379), password);
      return r.role === 'slave' && r.master_link_status === 'up' ? r : undefined;
    });
    assert.equal(rejoined.master_host, promoted);
    assert.equal(await until('the write on the old master', 60, 500, () => withNode(at(NODES[0]!, 6379), password, async (c) => (await c.get('after')) ?? undefined)), 'failover');
    let seen: unknown;
    const status = await until('the sentinels seeing the old master as a healthy replica', 120, 500, async () => {
      const r = (seen = (await tier().servicesStatus!()).redis);
      return r?.topology === 'sentinel' && r.agreed && r.sentinels.every((s) => s.master) && r.replicas.some((x) => x.address === `${NODES[0]}.incus:6379` && x.linkStatus === 'ok' && !x.flags.includes('s_down')) ? r : undefined;
    }).catch(async (e: Error) => {
      const journal = await client.exec(NODES[0]!, ['journalctl', '-u', 'redis-sentinel', '-n', '15', '--no-pager'], { check: false });
      throw new Error(`${e.message}; last status ${JSON.stringify(seen)}; ${NODES[0]}'s sentinel journal:\n${journal.stdout}`);
    });
    assert.equal(status.master, `${promoted}:6379`);
    for (const ct of NODES) {
      // Sentinel has rewritten its file by now (the failover, the new epoch): still the redis user's, writable, private.
      const stat = await client.exec(ct, ['stat', '-c', '%U %a', '/etc/redis/sentinel.conf'], { check: true });
      assert.match(stat.stdout.trim(), /^redis [67][04]0$/, `${ct}: ${stat.stdout}`);
      assert.match((await client.exec(ct, ['grep', '-c', '^sentinel monitor veza-master ', '/etc/redis/sentinel.conf'], { check: true })).stdout.trim(), /^1$/);
    }
    const after = await tier().provision();
    assert.deepEqual(after.steps.map((s) => s.title), [], 'a provision after the failover neither rewrites a file nor moves the master back');
    assert.equal(await masterName(sentinels[0]!), promoted);
  });
  say(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
});
