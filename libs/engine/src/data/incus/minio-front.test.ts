import { test } from 'node:test';
import assert from 'node:assert/strict';
import { environmentSchema } from '../../config/environment';
import { IncusClient } from '../../hosts/incus/client';
import { incusSettings } from '../../hosts/incus/host';
import { createRecordingRunner } from '../../ports/process';
import { backupUserSecret, renderTlsFront } from '../ha/s3-repository';
import type { PlanStep } from '../plan';
import { backupRepoStamp, frontContainer, incusS3Target, planMinioFront, type FrontFacts } from './minio-front';
import { sha256, type PlanContext } from './services';

function setup(topology: 'single' | 'distributed', password = 'minio-Root-Secret-9') {
  const e = environmentSchema.parse({
    name: 'staging', driver: 'incus', prefix: 'veza-staging-', publicHosts: ['staging.veza.fr'], publicUrl: 'https://staging.veza.fr', edge: 'veza-haproxy',
    registry: { url: 'https://git.example/api/packages', owner: 'talas' },
    data: { postgres: { passwordEnv: 'T_PG', topology: 'ha', ha: { backup: { repository: { type: 's3', tlsPort: 9543 } } } }, minio: { passwordEnv: 'T_MINIO', topology } },
  });
  const settings = incusSettings(e);
  const ctx: PlanContext = { env: e, settings, pool: 'fast', client: new IncusClient(createRecordingRunner(), 'default'), secrets: { postgres: 'pg', minio: password } };
  return { e, ctx, t: incusS3Target(e, settings)! };
}

const titles = (steps: PlanStep[]) => steps.map((s) => s.title);

test("the TLS front in MinIO's container: from nothing every piece in order, the key and the policy on stdin; as wanted nothing; a new root password sets the user up again", () => {
  const { e, ctx, t } = setup('single');
  assert.equal(frontContainer(e), 'veza-staging-minio');
  const backends = [{ host: '127.0.0.1', port: 9000 }];
  const steps = planMinioFront(ctx, 'veza-staging-minio', 9000, t, backends, {});
  assert.deepEqual(titles(steps), [
    'install haproxy, openssl in veza-staging-minio',
    'ensure backup bucket veza-staging-pgbackrest', 'ensure MinIO user veza-pgbackrest (its key on stdin)', 'ensure policy veza-pgbackrest: bucket veza-staging-pgbackrest only', 'ensure policy veza-pgbackrest attached to veza-pgbackrest',
    "record the backup repository's settings in veza-staging-minio",
    "make the TLS front's self-signed certificate for veza-staging-minio.incus in veza-staging-minio", "keep the front's key to root in veza-staging-minio",
    "write veza-staging-minio's haproxy.cfg (the TLS front on port 9543)", "check veza-staging-minio's haproxy.cfg", 'restart haproxy in veza-staging-minio',
  ]);
  const secret = backupUserSecret('minio-Root-Secret-9');
  for (const s of steps) if (s.kind === 'run') assert.ok(!s.command.argv.some((a) => a.includes(secret) || a.includes('minio-Root-Secret-9')), `a secret reached argv: ${s.command.argv.join(' ')}`);
  const user = steps.find((s) => s.title.startsWith('ensure MinIO user'));
  assert.ok(user?.kind === 'run' && String(user.command.input).endsWith(`${secret}\n`), 'the key follows the credentials on stdin');

  const converged: FrontFacts = { front_installed: '1', front_cert: '1', front_active: 'active', backup_repo: backupRepoStamp(t, secret), front_config: sha256(renderTlsFront({ bind: '*', port: 9543, certFile: '/etc/haproxy/veza-minio-front.pem', backends })) };
  assert.deepEqual(titles(planMinioFront(ctx, 'veza-staging-minio', 9000, t, backends, converged)), []);
  assert.deepEqual(titles(planMinioFront(ctx, 'veza-staging-minio', 9000, t, backends, { ...converged, front_active: 'failed' })), ['restart haproxy in veza-staging-minio']);
  const rotated = setup('single', 'minio-Root-Secret-10');
  assert.equal(titles(planMinioFront(rotated.ctx, 'veza-staging-minio', 9000, t, backends, converged)).filter((x) => x.startsWith('ensure')).length, 4, 'a new key for the user');
});

test('a distributed MinIO: the front on node 1, to every node, with health checks', () => {
  const { e, ctx, t } = setup('distributed');
  assert.equal(frontContainer(e), 'veza-staging-minio-1');
  assert.equal(t.host, 'veza-staging-minio-1.incus');
  const nodes = [1, 2, 3, 4].map((i) => ({ host: `veza-staging-minio-${i}.incus`, port: 9000 }));
  const cfg = planMinioFront(ctx, 'veza-staging-minio-1', 9000, t, nodes, {}).find((s) => s.title.startsWith("write veza-staging-minio-1's haproxy.cfg"));
  assert.ok(cfg?.kind === 'run');
  assert.match(String(cfg.command.input), /server minio4 veza-staging-minio-4\.incus:9000 check/);
});
