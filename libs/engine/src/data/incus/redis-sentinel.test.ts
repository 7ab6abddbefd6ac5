import { test } from 'node:test';
import assert from 'node:assert/strict';
import { environmentSchema, type Environment } from '../../config/environment';
import { IncusClient } from '../../hosts/incus/client';
import { incusSettings } from '../../hosts/incus/host';
import { isVezaError } from '../../log/errors';
import { createRecordingRunner } from '../../ports/process';
import type { PlanStep } from '../plan';
import { redisAppEnv, redisSettingsStamp } from '../redis-topology';
import { incusRedisNodes, planRedisSentinel, SENTINEL_UNIT, type SentinelNodeState } from './redis-sentinel';
import { dataContainers, sha256, type PlanContext } from './services';

const PASSWORD = 'redis-Secret-$2!';

function env(): Environment {
  return environmentSchema.parse({
    name: 'staging', driver: 'incus', prefix: 'veza-staging-', publicHosts: ['staging.veza.fr'], publicUrl: 'https://staging.veza.fr', edge: 'veza-haproxy',
    registry: { url: 'https://git.example/api/packages', owner: 'talas' },
    data: { postgres: { passwordEnv: 'T_PG' }, redis: { passwordEnv: 'T_REDIS', topology: 'sentinel' } },
  });
}

function setup() {
  const e = env();
  const settings = incusSettings(e);
  const ctx: PlanContext = { env: e, settings, pool: 'fast', client: new IncusClient(createRecordingRunner(), 'default'), secrets: { postgres: 'pg-Secret-1', redis: PASSWORD } };
  const s = e.data.redis!;
  const nodes = incusRedisNodes(e, settings, s);
  return { e, ctx, s, nodes, stamp: redisSettingsStamp(s, nodes, PASSWORD) };
}

const titles = (steps: PlanStep[]) => steps.map((s) => s.title);
const runs = (steps: PlanStep[]) => steps.flatMap((s) => (s.kind === 'run' ? [s.command] : []));
const fresh: SentinelNodeState = { exists: false, running: false, facts: {} };
const monitor = (n: number) => `sentinel monitor veza-master veza-staging-redis-${n}.incus 6379 2`;

function noPasswordInArgv(steps: PlanStep[]): void {
  for (const c of runs(steps)) assert.ok(!c.argv.some((a) => a.includes('redis-Secret')), `the password reached argv: ${c.argv.join(' ')}`);
}

/** The file a write step sends on stdin, with its directory, name, owner and mode (WRITE_CONFIG's arguments). */
function written(steps: PlanStep[], title: string): { content: string; target: string[] } {
  const step = steps.find((s) => s.title === title);
  assert.ok(step && step.kind === 'run', `no step ${title}`);
  return { content: String(step.command.input), target: step.command.argv.slice(-4) };
}

test('sentinel on incus from nothing: three containers with both packages, node 1 the master, then servers, sentinels, readiness and stamps', () => {
  const { ctx, s, nodes } = setup();
  const { steps, again } = planRedisSentinel(ctx, s, nodes, [fresh, fresh, fresh]);
  assert.equal(again, undefined);
  const perNode = (n: number) => [`create veza-staging-redis-${n} (never destroyed by the pipeline)`, `wait for veza-staging-redis-${n} to boot`, `install redis-server, redis-sentinel in veza-staging-redis-${n}`];
  const server = (n: number, role: string) => [`write veza-staging-redis-${n}'s redis.conf (${role})`, `restart redis-server in veza-staging-redis-${n}`, `wait for redis in veza-staging-redis-${n} to answer its password`];
  const sentinel = (n: number) => [`stop redis-sentinel in veza-staging-redis-${n}`, `write veza-staging-redis-${n}'s sentinel.conf (monitors veza-staging-redis-1.incus:6379)`, `restart redis-sentinel in veza-staging-redis-${n}`];
  assert.deepEqual(titles(steps), [
    ...perNode(1), ...perNode(2), ...perNode(3),
    ...[1, 2, 3].flatMap((n) => [`create veza-staging-redis-${n}'s redis-sentinel drop-in folder`, `write veza-staging-redis-${n}'s redis-sentinel drop-in (after the network, restarted without limit)`, `reload systemd in veza-staging-redis-${n}`]),
    ...server(1, 'master'), ...server(2, 'replica of veza-staging-redis-1.incus:6379'), ...server(3, 'replica of veza-staging-redis-1.incus:6379'),
    ...sentinel(1), ...sentinel(2), ...sentinel(3),
    ...[1, 2, 3].map((n) => `wait until the sentinel in veza-staging-redis-${n} knows 2 replicas and 2 sentinels`),
    ...[1, 2, 3].map((n) => `write veza-staging-redis-${n}'s settings stamp`),
  ]);
  assert.match(runs(steps)[0]!.argv.join(' '), /^incus launch images:debian\/13 veza-staging-redis-1 --quiet --profile veza-data --network net-veza --storage fast --config user\.veza\.data=staging\/redis-1/);

  const master = written(steps, "write veza-staging-redis-1's redis.conf (master)");
  assert.deepEqual(master.target, ['/etc/redis', 'redis.conf', 'redis:redis', '0600']);
  const lines = (text: string) => text.split('\n');
  for (const line of ['bind 0.0.0.0', 'port 6379', 'daemonize no', 'requirepass "redis-Secret-$2!"', 'masterauth "redis-Secret-$2!"', 'replica-announce-ip veza-staging-redis-1.incus', 'pidfile "/run/redis/redis-server.pid"']) assert.ok(lines(master.content).includes(line), line);
  assert.ok(!/^replicaof/m.test(master.content), 'the first node is the initial master');
  const replica = written(steps, "write veza-staging-redis-3's redis.conf (replica of veza-staging-redis-1.incus:6379)");
  assert.ok(lines(replica.content).includes('replicaof veza-staging-redis-1.incus 6379'));

  const sconf = written(steps, "write veza-staging-redis-2's sentinel.conf (monitors veza-staging-redis-1.incus:6379)");
  assert.deepEqual(sconf.target, ['/etc/redis', 'sentinel.conf', 'redis:redis', '0600'], 'Sentinel rewrites its file as the redis user: it stays writable by redis, and private');
  for (const line of ['bind 0.0.0.0', 'port 26379', 'sentinel resolve-hostnames yes', 'sentinel announce-hostnames yes', 'sentinel announce-ip veza-staging-redis-2.incus', monitor(1), 'sentinel down-after-milliseconds veza-master 5000', 'sentinel failover-timeout veza-master 30000']) assert.ok(lines(sconf.content).includes(line), line);
  noPasswordInArgv(steps);
  // Every command that needs the password reads it from stdin.
  const waits = runs(steps).filter((c) => c.description === 'wait for redis' || c.description?.startsWith('wait for the sentinel'));
  assert.equal(waits.length, 6);
  for (const c of waits) assert.equal(c.input, `${PASSWORD}\n`);
});

test('sentinel on incus as wanted: a second provision plans nothing and leaves every running sentinel its file', () => {
  const { ctx, s, nodes, stamp } = setup();
  const converged = [1, 2, 3].map((): SentinelNodeState => ({ exists: true, running: true, facts: { installed: '1', redis: 'active', sentinel: 'active', stamp, monitor: monitor(2), unit: sha256(SENTINEL_UNIT) } }));
  const { steps, notes } = planRedisSentinel(ctx, s, nodes, converged);
  assert.deepEqual(steps, []);
  assert.deepEqual(notes, [1, 2, 3].map((n) => `sentinel in veza-staging-redis-${n} runs; its file is its own`));
  // A sentinel that died restarts from its own file; a server that died restarts with its conf: nothing is rewritten.
  const died = planRedisSentinel(ctx, s, nodes, [converged[0]!, { ...converged[1]!, facts: { ...converged[1]!.facts, sentinel: 'failed', redis: 'inactive' } }, converged[2]!]);
  assert.deepEqual(titles(died.steps), [
    'restart redis-server in veza-staging-redis-2', 'wait for redis in veza-staging-redis-2 to answer its password', 'restart redis-sentinel in veza-staging-redis-2',
    ...[1, 2, 3].map((n) => `wait until the sentinel in veza-staging-redis-${n} knows 2 replicas and 2 sentinels`),
    ...[1, 2, 3].map((n) => `write veza-staging-redis-${n}'s settings stamp`),
  ]);
});

test('changed settings after a failover: files rewritten with the master the sentinels name, each sentinel stopped before its file is', () => {
  const { ctx, s, nodes } = setup();
  const after = (n: number): SentinelNodeState => ({ exists: true, running: true, facts: { installed: '1', redis: 'active', sentinel: 'active', stamp: 'older', monitor: monitor(n), unit: sha256(SENTINEL_UNIT) } });
  // Two sentinels saw the failover to node 2; the third file (still naming node 1) is outvoted.
  const { steps } = planRedisSentinel(ctx, s, nodes, [after(2), after(2), after(1)]);
  assert.ok(titles(steps).includes("write veza-staging-redis-1's redis.conf (replica of veza-staging-redis-2.incus:6379)"), 'the old master never comes back as a second master');
  assert.ok(titles(steps).includes("write veza-staging-redis-2's redis.conf (master)"));
  for (const n of [1, 2, 3]) {
    const t = titles(steps);
    const stop = t.indexOf(`stop redis-sentinel in veza-staging-redis-${n}`);
    const write = t.indexOf(`write veza-staging-redis-${n}'s sentinel.conf (monitors veza-staging-redis-2.incus:6379)`);
    assert.ok(stop >= 0 && write > stop, `sentinel ${n}: stopped, then written`);
  }
  noPasswordInArgv(steps);
});

test('a password Sentinel could not write back into its own file is refused before any step', () => {
  const { ctx, s, nodes } = setup();
  for (const bad of ['with space', 'a"quote', "it's", 'back\\slash']) {
    assert.throws(() => planRedisSentinel({ ...ctx, secrets: { ...ctx.secrets, redis: bad } }, s, nodes, [fresh, fresh, fresh]), (e: unknown) => isVezaError(e) && e.code === 'INVALID_INPUT' && /cannot write back/.test(e.message));
  }
});

test('a stopped node container is started first and the rest planned again from what it holds, never rewritten blind', () => {
  const { ctx, s, nodes, stamp } = setup();
  const up: SentinelNodeState = { exists: true, running: true, facts: { installed: '1', redis: 'active', sentinel: 'active', stamp, monitor: monitor(2), unit: sha256(SENTINEL_UNIT) } };
  const { steps, again } = planRedisSentinel(ctx, s, nodes, [{ exists: true, running: false, facts: {} }, up, up]);
  assert.equal(again, true);
  // The install script checks dpkg first: on a stopped container, whose packages cannot be asked, it is a no-op when they are there.
  assert.deepEqual(titles(steps), ['start veza-staging-redis-1', 'wait for veza-staging-redis-1 to boot', 'install redis-server, redis-sentinel in veza-staging-redis-1']);
});

test('sentinel on incus: the data containers are the nodes, and slots get the sentinels by DNS name', () => {
  const { e, s, nodes } = setup();
  assert.deepEqual(dataContainers(e), ['veza-staging-postgres', 'veza-staging-redis-1', 'veza-staging-redis-2', 'veza-staging-redis-3']);
  assert.deepEqual(redisAppEnv(s, nodes, PASSWORD), {
    REDIS_SENTINEL_ADDRS: 'veza-staging-redis-1.incus:26379,veza-staging-redis-2.incus:26379,veza-staging-redis-3.incus:26379',
    REDIS_SENTINEL_MASTER_NAME: 'veza-master',
    REDIS_SENTINEL_PASSWORD: PASSWORD,
  });
});
