import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { environmentSchema, parseEnvironment } from '../config/environment';
import { isVezaError } from '../log/errors';
import { isPlaceholder, resolveServicePassword, servicePasswordSource } from './credentials';
import { monitoredMaster, redisAppEnv, renderRedisConf, renderSentinelConf, type RedisNode } from './redis-topology';

const FILE = 'infra/environments/staging.yaml';
const base = (data: string[]) => ['name: staging', 'driver: incus', 'prefix: veza-staging-', 'publicHosts: [staging.example]', 'publicUrl: https://staging.example', 'edge: e', 'registry: { url: file:.veza/registry, owner: veza }', 'data:', ...data, ''].join('\n');
const badConfig = (re: RegExp) => (e: unknown) => isVezaError(e) && e.code === 'BAD_CONFIG' && re.test(e.message);

test('a Sentinel topology with fewer than three nodes, or a quorum above its nodes, is refused with file:line', () => {
  const two = base(['  redis:', '    passwordEnv: R', '    topology: sentinel', '    sentinel:', '      nodes: 2', '      quorum: 2']);
  assert.throws(() => parseEnvironment(FILE, two), badConfig(/^infra\/environments\/staging\.yaml:13: data\.redis\.sentinel\.nodes: a Sentinel topology needs at least 3 nodes \(got 2\)/));
  const quorum = base(['  redis:', '    passwordEnv: R', '    topology: sentinel', '    sentinel: { nodes: 3, quorum: 4 }']);
  assert.throws(() => parseEnvironment(FILE, quorum), badConfig(/staging\.yaml:12: data\.redis\.sentinel\.quorum: quorum 4 is larger than the 3 sentinels/));
  assert.equal(parseEnvironment(FILE, base(['  redis: { passwordEnv: R, topology: sentinel }'])).data.redis?.sentinel.quorum, 2, "the seed's defaults: 3 nodes, quorum 2");
});

test('a distributed MinIO needs 4·k drives with parity at most half of them', () => {
  assert.throws(() => parseEnvironment(FILE, base(['  minio:', '    passwordEnv: M', '    topology: distributed', '    nodes: 3'])), badConfig(/staging\.yaml:12: data\.minio\.nodes: a distributed MinIO needs 4·k drives \(nodes × drivesPerNode\); got 3 × 1 = 3/));
  assert.throws(() => parseEnvironment(FILE, base(['  minio: { passwordEnv: M, topology: distributed, nodes: 4, parity: 3 }'])), badConfig(/data\.minio\.parity: parity EC:3 exceeds half of the 4 drives/));
  assert.equal(parseEnvironment(FILE, base(['  minio: { passwordEnv: M, topology: distributed, nodes: 2, drivesPerNode: 4 }'])).data.minio?.nodes, 2);
});

test('staging and prod name the variable of every service password; a local environment may generate them', () => {
  assert.throws(() => parseEnvironment(FILE, base(['  rabbitmq: { vhost: /veza }'])), badConfig(/staging\.yaml:9: data\.rabbitmq\.passwordEnv: staging is a shared environment: name the variable/));
  const local = parseEnvironment('infra/environments/dev.yaml', base(['  rabbitmq: { vhost: /veza }']).replace('name: staging', 'name: dev'));
  assert.equal(local.data.rabbitmq?.passwordEnv, undefined);
});

test("an empty or placeholder password for staging is refused, naming the passwordEnv line, before it is used", async () => {
  const root = mkdtempSync(join(tmpdir(), 'veza-secrets-'));
  try {
    const text = base(['  postgres: { passwordEnv: P }', '  redis:', '    passwordEnv: VEZA_TEST_REDIS_PW']);
    mkdirSync(join(root, 'infra/environments'), { recursive: true });
    writeFileSync(join(root, FILE), text);
    const env = parseEnvironment(FILE, text);
    const src = servicePasswordSource(env, 'redis', root);
    assert.equal(src.where, `${FILE}:11`);
    for (const value of ['', 'changeme-DEV-ONLY', 'CHANGE_ME', 'short']) {
      process.env.VEZA_TEST_REDIS_PW = value;
      await assert.rejects(resolveServicePassword(env, src, '', { generate: false }), (e: unknown) => isVezaError(e) && e.code === 'MISSING_SECRET' && e.message.startsWith(`${FILE}:11: VEZA_TEST_REDIS_PW `));
    }
    process.env.VEZA_TEST_REDIS_PW = 'a-real-vault-secret-8Jd9';
    assert.equal((await resolveServicePassword(env, src, '', { generate: false }))?.value, 'a-real-vault-secret-8Jd9');
  } finally {
    delete process.env.VEZA_TEST_REDIS_PW;
    rmSync(root, { recursive: true, force: true });
  }
  assert.ok(isPlaceholder('password') && isPlaceholder('xxxxxxxxxxxxxxxx') && !isPlaceholder('Zk3-pq9-vv1-Lm0'));
});

const settings = environmentSchema.shape.data.parse({ redis: { topology: 'sentinel', port: 6380 } }).redis!;
const node = (index: number): RedisNode => ({
  index,
  host: `127.0.0.${21 + index}`,
  port: 6380,
  sentinelPort: 26379,
  files: { dir: `/d/${index}`, pidfile: `/d/${index}/r.pid`, logfile: `/d/${index}/r.log`, sentinelPidfile: `/d/${index}/s.pid`, sentinelLogfile: `/d/${index}/s.log` },
});

test('redis.conf: the first node is the master; replicas follow it, authenticate and announce their own address', () => {
  const master = renderRedisConf(settings, node(0), 'p"w', undefined, { daemonize: true });
  assert.doesNotMatch(master, /^replicaof/m);
  assert.match(master, /^requirepass "p\\"w"$/m);
  assert.match(master, /^masterauth "p\\"w"$/m);
  const replica = renderRedisConf(settings, node(1), 'pw', { host: '127.0.0.21', port: 6380 }, { daemonize: false });
  assert.match(replica, /^replicaof 127\.0\.0\.21 6380$/m);
  assert.match(replica, /^replica-announce-ip 127\.0\.0\.22$/m);
  assert.match(replica, /^daemonize no$/m);
  assert.throws(() => renderRedisConf(settings, node(0), 'a\nb', undefined, { daemonize: true }), /line break/);
});

test("sentinel.conf: the seed's quorum 2 and failover-timeout 30 s; the monitored master is read back after Sentinel rewrites it", () => {
  const conf = renderSentinelConf(settings, node(2), 'pw', { host: '127.0.0.21', port: 6380 }, { daemonize: true });
  assert.match(conf, /^sentinel monitor veza-master 127\.0\.0\.21 6380 2$/m);
  assert.match(conf, /^sentinel failover-timeout veza-master 30000$/m);
  assert.match(conf, /^sentinel auth-pass veza-master "pw"$/m);
  assert.match(conf, /^sentinel announce-ip 127\.0\.0\.23$/m);
  // What Sentinel leaves after a failover: its rewritten monitor line names the new master.
  assert.deepEqual(monitoredMaster(`${conf}\nsentinel monitor other 1.2.3.4 1 2\n`.replace('127.0.0.21 6380 2', '127.0.0.22 6380 2'), 'veza-master'), { host: '127.0.0.22', port: 6380 });
  assert.equal(monitoredMaster('port 1\n', 'veza-master'), undefined);
});

test('apps get the Sentinel trio (or REDIS_URL for a single node)', () => {
  assert.deepEqual(redisAppEnv(settings, [node(0), node(1), node(2)], 'pw'), {
    REDIS_SENTINEL_ADDRS: '127.0.0.21:26379,127.0.0.22:26379,127.0.0.23:26379',
    REDIS_SENTINEL_MASTER_NAME: 'veza-master',
    REDIS_SENTINEL_PASSWORD: 'pw',
  });
  const single = { ...settings, topology: 'single' as const };
  assert.deepEqual(redisAppEnv(single, [node(0)], 'p w'), { REDIS_URL: 'redis://:p%20w@127.0.0.21:6380/0' });
});
