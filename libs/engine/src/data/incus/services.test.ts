import { test } from 'node:test';
import assert from 'node:assert/strict';
import { environmentSchema, type Environment } from '../../config/environment';
import { isVezaError } from '../../log/errors';
import { IncusClient } from '../../hosts/incus/client';
import { incusSettings } from '../../hosts/incus/host';
import { createRecordingRunner } from '../../ports/process';
import type { PlanStep } from '../plan';
import { minioEnv, MINIO_UNIT, planService, postgresConf, postgresHba, redisConf, sha256, type PlanContext, type ServiceState } from './services';
import { planSnapshotPrune, planSnapshots } from './snapshots';
import { resolveSecrets } from './tier';

function env(data: object = {}): Environment {
  return environmentSchema.parse({
    name: 'staging', driver: 'incus', prefix: 'veza-staging-', publicHosts: ['staging.veza.fr'], publicUrl: 'https://staging.veza.fr', edge: 'veza-haproxy',
    registry: { url: 'https://git.example/api/packages', owner: 'talas' },
    data: { postgres: { passwordEnv: 'T_PG' }, redis: { passwordEnv: 'T_REDIS' }, rabbitmq: { passwordEnv: 'T_MQ' }, minio: { passwordEnv: 'T_MINIO', binary: '/opt/minio/minio' }, ...data },
  });
}

const SECRETS = { postgres: 'pg-Secret-1', redis: 'redis-Secret-2', rabbitmq: 'mq-Secret-3', minio: 'minio-Secret-4' };

function ctx(e = env()): PlanContext {
  return {
    env: e, settings: incusSettings(e), pool: 'fast', client: new IncusClient(createRecordingRunner(), 'default'), secrets: SECRETS,
    minio: { server: '/opt/minio/minio', client: '/opt/minio/mc', serverSha256: 'f'.repeat(64) },
  };
}

const titles = (steps: PlanStep[]) => steps.map((s) => s.title);
const argvs = (steps: PlanStep[]) => steps.flatMap((s) => (s.kind === 'run' ? [s.command.argv] : []));

function noSecretInArgv(steps: PlanStep[]): void {
  for (const argv of argvs(steps)) for (const secret of Object.values(SECRETS)) assert.ok(!argv.some((a) => a.includes(secret)), `a password reached argv: ${argv.join(' ')}`);
}

const fresh = (service: ServiceState['service']): ServiceState => ({ service, container: `veza-staging-${service}`, exists: false, running: false, facts: {} });

test('postgres from nothing: create (veza-data profile), boot, install, configure, restart, role and database', () => {
  const steps = planService(ctx(), fresh('postgres'));
  assert.deepEqual(titles(steps), [
    'create veza-staging-postgres (never destroyed by the pipeline)',
    'wait for veza-staging-postgres to boot',
    'install postgresql in veza-staging-postgres',
    "write veza-staging-postgres's veza.conf (listen on its network, port 5432)",
    "write veza-staging-postgres's pg_hba.conf (app role from its network, by password)",
    'restart postgresql in veza-staging-postgres',
    'ensure role veza and database veza',
  ]);
  assert.match(argvs(steps)[0]!.join(' '), /^incus launch images:debian\/13 veza-staging-postgres --quiet --profile veza-data --network net-veza --storage fast --config user\.veza\.data=staging\/postgres/);
  const sql = steps[6]!.kind === 'run' ? String(steps[6]!.command.input) : '';
  assert.match(sql, /ALTER ROLE "veza" WITH LOGIN PASSWORD 'pg-Secret-1'/);
  noSecretInArgv(steps);
});

test('postgres as wanted: nothing to do; a drifted pg_hba is rewritten and the server restarted, the role left alone', () => {
  const e = env();
  const converged: ServiceState = { ...fresh('postgres'), exists: true, running: true, appOwner: 'veza', facts: { installed: '1', status: 'online', conf: sha256(postgresConf(5432)), hba: sha256(postgresHba('veza', 'veza')) } };
  assert.deepEqual(planService(ctx(e), converged), []);
  const drifted = planService(ctx(e), { ...converged, facts: { ...converged.facts, hba: 'x' } });
  assert.deepEqual(titles(drifted), ["write veza-staging-postgres's pg_hba.conf (app role from its network, by password)", 'restart postgresql in veza-staging-postgres']);
  const stopped = planService(ctx(e), { ...converged, running: false, facts: {} });
  assert.equal(stopped[0]!.title, 'start veza-staging-postgres', 'a stopped data container is started, never re-created');
});

test('redis: password, append-only file and LRU eviction; the config travels on stdin', () => {
  const conf = redisConf('p"w\\x', '256mb');
  for (const line of ['requirepass "p\\"w\\\\x"', 'appendonly yes', 'maxmemory 256mb', 'maxmemory-policy allkeys-lru', 'bind 0.0.0.0', 'protected-mode yes']) assert.ok(conf.split('\n').includes(line), line);
  assert.throws(() => redisConf('two\nlines', '256mb'), /line break/);
  assert.throws(() => redisConf('x', 'lots'), (e: unknown) => isVezaError(e) && e.code === 'BAD_CONFIG');
  const steps = planService(ctx(), { ...fresh('redis'), exists: true, running: true, facts: { installed: '1', conf: 'old', active: 'active' } });
  assert.deepEqual(titles(steps), ["write veza-staging-redis's redis.conf (password, appendonly, allkeys-lru)", 'restart redis-server in veza-staging-redis', 'wait for redis in veza-staging-redis to answer its password']);
  noSecretInArgv(steps);
  const wanted = sha256(redisConf(SECRETS.redis, '256mb'));
  assert.deepEqual(planService(ctx(), { ...fresh('redis'), exists: true, running: true, facts: { installed: '1', conf: wanted, active: 'active' } }), []);
});

test('rabbitmq: vhost /veza, the user with its password from stdin, its permissions — each only when missing', () => {
  const running: ServiceState = { ...fresh('rabbitmq'), exists: true, running: true, facts: { installed: '1', active: 'active' } };
  assert.deepEqual(titles(planService(ctx(), { ...running, broker: { up: '1', vhost: '0', user: '0', perms: '0', password: '0' } })), ['add vhost /veza', 'ensure user veza with its password', 'grant veza everything on /veza']);
  const rotated = planService(ctx(), { ...running, broker: { up: '1', vhost: '1', user: '1', perms: '1', password: '0' } });
  assert.deepEqual(titles(rotated), ['ensure user veza with its password']);
  assert.equal(rotated[0]!.kind === 'run' && rotated[0]!.command.input, `${SECRETS.rabbitmq}\n`);
  noSecretInArgv(rotated);
  assert.deepEqual(planService(ctx(), { ...running, broker: { up: '1', vhost: '1', user: '1', perms: '1', password: '1' } }), []);
});

test('minio (not packaged by Debian, so planned rather than run by the real tier): binaries pushed, hardened unit, credentials 0600, bucket veza-<env>', () => {
  const steps = planService(ctx(), fresh('minio'));
  assert.deepEqual(titles(steps), [
    'create veza-staging-minio (never destroyed by the pipeline)',
    'wait for veza-staging-minio to boot',
    'push the minio server into veza-staging-minio',
    'push the mc client into veza-staging-minio',
    'create the minio-user in veza-staging-minio',
    "write veza-staging-minio's /etc/default/minio (root credentials)",
    "write veza-staging-minio's minio.service",
    'restart minio in veza-staging-minio',
    'wait until minio in veza-staging-minio has write quorum',
    'ensure bucket veza-staging',
    'ensure versioning on veza-staging',
    'ensure lifecycle of veza-staging: noncurrent versions expire after 30 d',
    "record veza-staging's settings in veza-staging-minio",
  ]);
  assert.deepEqual(argvs(steps)[2]!.slice(0, 13), ['incus', 'file', 'push', '/opt/minio/minio', 'veza-staging-minio/usr/local/bin/minio', '--uid', '0', '--gid', '0', '--mode', '0755', '--create-dirs', '--quiet']);
  const envWrite = steps[5]!.kind === 'run' ? steps[5]!.command : undefined;
  assert.deepEqual(envWrite!.argv.slice(-4), ['/etc/default', 'minio', 'root:root', '0600']);
  assert.match(String(envWrite!.input), /MINIO_ROOT_PASSWORD="minio-Secret-4"/);
  const bucket = steps[9]!.kind === 'run' ? steps[9]!.command : undefined;
  assert.equal(bucket!.input, `http://veza:minio-Secret-4@127.0.0.1:9000\n`, 'mc\'s credentials on stdin, never argv');
  assert.deepEqual(bucket!.argv.slice(-5), ['mc', '--no-color', 'mb', '--ignore-existing', 'veza/veza-staging']);
  noSecretInArgv(steps);
  assert.match(MINIO_UNIT, /^ProtectSystem=strict$/m);
  assert.match(minioEnv('a$b'), /MINIO_ROOT_PASSWORD="a\\\$b"/);
  assert.throws(() => planService({ ...ctx(), minio: undefined }, fresh('minio')), (e: unknown) => isVezaError(e) && e.code === 'BAD_CONFIG' && /data\.minio\.binary/.test(e.hint));
});

test('snapshots: created where missing, kept where present, never pruned by the snapshot itself; pruning keeps the retention, the live and previous releases, and never an operator snapshot', () => {
  const d = (day: number) => new Date(Date.UTC(2026, 0, day));
  const P = { project: 'default' };
  const containers = [
    { container: 'veza-staging-postgres', snapshots: [{ name: 'pre-deploy-' + '1'.repeat(40), createdAt: d(1) }, { name: 'before-upgrade', createdAt: d(2) }, { name: 'pre-deploy-' + '2'.repeat(40), createdAt: d(3) }, { name: 'pre-deploy-' + '3'.repeat(40), createdAt: d(4) }] },
    { container: 'veza-staging-redis', snapshots: [{ name: 'pre-deploy-' + 'a'.repeat(40), createdAt: d(5) }] },
  ];
  const plan = planSnapshots(P, containers, 'a'.repeat(40));
  assert.deepEqual(plan.steps.map((s) => s.kind === 'run' && s.command.argv.slice(1, 5).join(' ')), [
    `snapshot create veza-staging-postgres pre-deploy-${'a'.repeat(40)}`,
  ]);
  assert.deepEqual(plan.notes, [`snapshot veza-staging-redis/pre-deploy-${'a'.repeat(40)} exists: kept`]);

  // Retention 1, but the live (3…) and previous (1…, the oldest) releases stay: only 2… goes.
  const prune = planSnapshotPrune(P, containers, ['3'.repeat(40), '1'.repeat(40)], 1);
  assert.deepEqual(prune.map((s) => s.kind === 'run' && s.command.argv.slice(1, 5).join(' ')), [
    `snapshot delete veza-staging-postgres pre-deploy-${'2'.repeat(40)}`,
  ]);
});

test('every password comes from the variable the environment names; missing ones stop before anything runs', () => {
  const vars = { T_PG: 'a1b2c3', T_REDIS: 'r1r2r3', T_MQ: 'm1m2m3', T_MINIO: 'n1n2n3' };
  Object.assign(process.env, vars);
  try {
    assert.deepEqual(resolveSecrets(env()), { postgres: 'a1b2c3', redis: 'r1r2r3', rabbitmq: 'm1m2m3', minio: 'n1n2n3' });
    delete process.env.T_MQ;
    assert.throws(() => resolveSecrets(env()), (e: unknown) => isVezaError(e) && e.code === 'MISSING_SECRET' && /T_MQ is not set/.test(e.message));
    // staging names no redis.passwordEnv: the environment schema refuses it at load, before resolveSecrets could.
    assert.throws(() => env({ redis: {} }), /staging is a shared environment: name the variable that holds the redis password/);
  } finally {
    for (const k of Object.keys(vars)) delete process.env[k];
  }
});
