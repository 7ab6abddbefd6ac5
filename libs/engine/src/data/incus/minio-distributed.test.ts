import { test } from 'node:test';
import assert from 'node:assert/strict';
import { environmentSchema, type Environment } from '../../config/environment';
import { IncusClient } from '../../hosts/incus/client';
import { incusSettings } from '../../hosts/incus/host';
import { isVezaError } from '../../log/errors';
import { createMemoryLogger } from '../../log/logger';
import { createRecordingRunner } from '../../ports/process';
import type { PlanStep } from '../plan';
import { LIFECYCLE } from '../minio-topology';
import { incusMinioNodes, minioNodeEnvFile, planMinioDistributed, type MinioNodeState } from './minio-distributed';
import { IncusDataTier } from './tier';
import { dataContainers, MINIO_UNIT, minioBucketStamp, sha256, type PlanContext } from './services';

const PASSWORD = 'minio-Secret-$2!';
const SHA = 'f'.repeat(64);

function env(minio: object = {}): Environment {
  return environmentSchema.parse({
    name: 'staging', driver: 'incus', prefix: 'veza-staging-', publicHosts: ['staging.veza.fr'], publicUrl: 'https://staging.veza.fr', edge: 'veza-haproxy',
    registry: { url: 'https://git.example/api/packages', owner: 'talas' },
    data: { postgres: { passwordEnv: 'T_PG' }, minio: { passwordEnv: 'T_MINIO', binary: '/opt/minio/minio', topology: 'distributed', ...minio } },
  });
}

function setup(e = env()) {
  const settings = incusSettings(e);
  const ctx: PlanContext = { env: e, settings, pool: 'fast', client: new IncusClient(createRecordingRunner(), 'default'), secrets: { postgres: 'pg-Secret-1', minio: PASSWORD }, minio: { server: '/opt/minio/minio', client: '/opt/minio/mc', serverSha256: SHA } };
  const s = e.data.minio!;
  const nodes = incusMinioNodes(e, settings, s);
  return { e, ctx, s, nodes, envFile: minioNodeEnvFile(s, nodes, PASSWORD) };
}

const titles = (steps: PlanStep[]) => steps.map((s) => s.title);
const runs = (steps: PlanStep[]) => steps.flatMap((s) => (s.kind === 'run' ? [s.command] : []));
const fresh: MinioNodeState = { exists: false, running: false, facts: {} };

function noPasswordInArgv(steps: PlanStep[]): void {
  for (const c of runs(steps)) assert.ok(!c.argv.some((a) => a.includes('minio-Secret')), `the password reached argv: ${c.argv.join(' ')}`);
}

const ct = (n: number) => `veza-staging-minio-${n}`;
const nodeFiles = (n: number) => [
  `push the minio server into ${ct(n)}`, `push the mc client into ${ct(n)}`, `create the minio-user in ${ct(n)}`,
  `write ${ct(n)}'s /etc/default/minio (root credentials, the 4 drives, EC:2)`, `write ${ct(n)}'s minio.service`,
];
const bucketSteps = [
  `wait until minio in ${ct(1)} has write quorum`,
  'ensure bucket veza-staging', 'ensure versioning on veza-staging', 'ensure lifecycle of veza-staging: noncurrent versions expire after 30 d',
  `record veza-staging's settings in ${ct(1)}`,
];

test('distributed minio on incus from nothing: four containers, each node its binaries and files, all restarted, then the bucket from node 1', () => {
  const { ctx, s, nodes, envFile } = setup();
  const { steps, again } = planMinioDistributed(ctx, s, nodes, [fresh, fresh, fresh, fresh]);
  assert.equal(again, undefined);
  assert.deepEqual(titles(steps), [
    ...[1, 2, 3, 4].flatMap((n) => [`create ${ct(n)} (never destroyed by the pipeline)`, `wait for ${ct(n)} to boot`]),
    ...[1, 2, 3, 4].flatMap(nodeFiles),
    ...[1, 2, 3, 4].map((n) => `restart minio in ${ct(n)}`),
    ...bucketSteps,
  ]);
  // Every node is given every drive by DNS name, in the same order: one erasure set.
  const drives = [1, 2, 3, 4].map((n) => `http://${ct(n)}.incus:9000/var/lib/minio/d0`).join(' ');
  const lines = envFile.split('\n');
  for (const line of ['MINIO_ROOT_USER="veza"', 'MINIO_ROOT_PASSWORD="minio-Secret-\\$2!"', 'MINIO_STORAGE_CLASS_STANDARD="EC:2"', 'MINIO_BROWSER="off"', 'MINIO_API_STALE_UPLOADS_EXPIRY="168h"', 'MINIO_ROOTDRIVE_THRESHOLD_SIZE="1B"', `MINIO_VOLUMES="${drives}"`, 'MINIO_OPTS="--quiet --address :9000"']) assert.ok(lines.includes(line), line);
  const envWrite = runs(steps).find((c) => c.description?.startsWith(`write ${ct(3)}'s /etc/default/minio`))!;
  assert.deepEqual(envWrite.argv.slice(-4), ['/etc/default', 'minio', 'root:root', '0600']);
  assert.equal(envWrite.input, envFile, 'every node gets the same file, on stdin');
  assert.match(MINIO_UNIT, /^ExecStart=\/usr\/local\/bin\/minio server \$MINIO_OPTS \$MINIO_VOLUMES$/m);
  const user = runs(steps).find((c) => c.description === 'create the minio user')!;
  assert.equal(user.argv[user.argv.length - 1], '/var/lib/minio/d0', 'the minio-user owns its drive');
  // mc's credentials are stdin's first line; the lifecycle follows them on the same stdin.
  const ilm = steps.find((x) => x.title === 'ensure lifecycle of veza-staging: noncurrent versions expire after 30 d')!;
  assert.ok(ilm.kind === 'run');
  assert.deepEqual(ilm.command.argv.slice(-5), ['mc', '--no-color', 'ilm', 'import', 'veza/veza-staging']);
  assert.equal(ilm.command.input, `http://veza:${PASSWORD}@127.0.0.1:9000\n${LIFECYCLE}`);
  noPasswordInArgv(steps);
});

test('distributed minio as wanted: a second provision plans nothing; a dead server restarts and the bucket is checked again', () => {
  const { ctx, s, nodes, envFile } = setup();
  const ok = (bucket = ''): MinioNodeState => ({ exists: true, running: true, facts: { installed: '1', binary: SHA, env: sha256(envFile), unit: sha256(MINIO_UNIT), active: 'active', bucket } });
  const converged = [ok(minioBucketStamp('veza-staging')), ok(), ok(), ok()];
  const { steps, notes } = planMinioDistributed(ctx, s, nodes, converged);
  assert.deepEqual(steps, []);
  assert.deepEqual(notes, [1, 2, 3, 4].map((n) => `minio in ${ct(n)} runs as wanted`));
  const died = planMinioDistributed(ctx, s, nodes, [converged[0]!, converged[1]!, { ...converged[2]!, facts: { ...converged[2]!.facts, active: 'failed' } }, converged[3]!]);
  assert.deepEqual(titles(died.steps), [`restart minio in ${ct(3)}`, ...bucketSteps]);
  // A new lifecycle (another stamp) is applied without restarting anything.
  const unstamped = planMinioDistributed(ctx, s, nodes, [ok('older'), ok(), ok(), ok()]);
  assert.deepEqual(titles(unstamped.steps), bucketSteps);
  // A new password or binary reaches every node, and every node restarts.
  const rotated = planMinioDistributed({ ...ctx, secrets: { ...ctx.secrets, minio: 'another-Secret-9' } }, s, nodes, converged);
  assert.deepEqual(titles(rotated.steps), [...[1, 2, 3, 4].map((n) => `write ${ct(n)}'s /etc/default/minio (root credentials, the 4 drives, EC:2)`), ...[1, 2, 3, 4].map((n) => `restart minio in ${ct(n)}`), ...bucketSteps]);
});

test('a stopped node container is started first and the rest planned again from what it holds', () => {
  const { ctx, s, nodes } = setup();
  const up: MinioNodeState = { exists: true, running: true, facts: { installed: '1', active: 'active' } };
  const { steps, again } = planMinioDistributed(ctx, s, nodes, [up, { exists: true, running: false, facts: {} }, { exists: true, running: false, facts: {} }, up]);
  assert.equal(again, true);
  assert.deepEqual(titles(steps), [`start ${ct(2)}`, `wait for ${ct(2)} to boot`, `start ${ct(3)}`, `wait for ${ct(3)} to boot`]);
});

test('distributed minio on incus: the data containers are the nodes; two drives a node make eight endpoints; no binary is refused', () => {
  const { e } = setup();
  assert.deepEqual(dataContainers(e), ['veza-staging-postgres', ct(1), ct(2), ct(3), ct(4)]);
  const two = setup(env({ drivesPerNode: 2 }));
  const volumes = two.envFile.split('\n').find((l) => l.startsWith('MINIO_VOLUMES='))!;
  assert.equal(volumes.split(' ').length, 8);
  assert.match(volumes, /minio-4\.incus:9000\/var\/lib\/minio\/d1"$/);
  const { ctx, s, nodes } = setup();
  assert.throws(() => planMinioDistributed({ ...ctx, minio: undefined }, s, nodes, [fresh, fresh, fresh, fresh]), (err: unknown) => isVezaError(err) && err.code === 'BAD_CONFIG' && /data\.minio\.binary/.test(err.hint));
  assert.throws(() => env({ nodes: 3 }), /4·k drives/);
});

test('slots\' S3_* on incus: the media cache when appsThrough, else node 1 of a distributed MinIO, else the single one; the bucket veza-<env>', async () => {
  process.env.T_PG = 'pg-Secret-1';
  process.env.T_MINIO = PASSWORD;
  try {
    const vars = (e: Environment) => new IncusDataTier(e, createRecordingRunner(), createMemoryLogger()).serviceEnv();
    const s3 = (endpoint: string) => ({ S3_ENDPOINT: endpoint, S3_BUCKET: 'veza-staging', S3_ACCESS_KEY: 'veza', S3_SECRET_KEY: PASSWORD });
    assert.deepEqual(await vars(env({ cache: {} })), s3('http://veza-staging-minio-cache.incus:8080'));
    assert.deepEqual(await vars(env({ cache: { appsThrough: false } })), s3('http://veza-staging-minio-1.incus:9000'));
    assert.deepEqual(await vars(env({ topology: 'single' })), s3('http://veza-staging-minio.incus:9000'));
  } finally {
    delete process.env.T_PG;
    delete process.env.T_MINIO;
  }
});
