import { test } from 'node:test';
import assert from 'node:assert/strict';
import { environmentSchema, type Environment } from '../../config/environment';
import { IncusClient } from '../../hosts/incus/client';
import { incusSettings } from '../../hosts/incus/host';
import { createRecordingRunner } from '../../ports/process';
import { renderNginxCache } from '../nginx-cache';
import type { PlanStep } from '../plan';
import { incusCacheSpec, planIncusCache, type CacheState } from './cache';
import { dataContainers, sha256, type PlanContext } from './services';

function env(minio: object): Environment {
  return environmentSchema.parse({
    name: 'staging', driver: 'incus', prefix: 'veza-staging-', publicHosts: ['staging.veza.fr'], publicUrl: 'https://staging.veza.fr', edge: 'veza-haproxy',
    registry: { url: 'https://git.example/api/packages', owner: 'talas' },
    data: { postgres: { passwordEnv: 'T_PG' }, minio: { passwordEnv: 'T_MINIO', binary: '/opt/minio/minio', cache: { maxSize: '2g' }, ...minio } },
  });
}

function ctx(e: Environment): PlanContext {
  return { env: e, settings: incusSettings(e), pool: 'fast', client: new IncusClient(createRecordingRunner(), 'default'), secrets: { postgres: 'pg-Secret-1', minio: 'minio-Secret-2' } };
}

const titles = (steps: PlanStep[]) => steps.map((s) => s.title);
const CT = 'veza-staging-minio-cache';

test('media cache on incus from nothing: Debian\'s nginx (and curl) installed, the rendered config checked by nginx -t before it goes live, then started', () => {
  const e = env({ topology: 'distributed' });
  const spec = incusCacheSpec(e, incusSettings(e));
  assert.deepEqual(spec.upstream, [1, 2, 3, 4].map((n) => ({ host: `veza-staging-minio-${n}.incus`, port: 9000 })), 'every MinIO node, by DNS name');
  assert.deepEqual([spec.listen, spec.status, spec.user], [{ host: '0.0.0.0', port: 8080 }, { host: '127.0.0.1', port: 8081 }, 'www-data']);
  const { steps } = planIncusCache(ctx(e), spec, { exists: false, running: false, facts: {} });
  assert.deepEqual(titles(steps), [
    `create ${CT} (never destroyed by the pipeline)`, `wait for ${CT} to boot`, `install nginx, curl in ${CT}`,
    `create ${CT}'s cache folders`, `write ${CT}'s candidate nginx.conf`, `nginx -t on ${CT}'s candidate`, `the checked config goes live in ${CT}`, `restart nginx in ${CT}`,
  ]);
  const candidate = steps[4]!;
  assert.ok(candidate.kind === 'run');
  assert.deepEqual(candidate.command.argv.slice(-4), ['/etc/nginx', 'nginx.conf.next', 'root:root', '0644']);
  assert.equal(candidate.command.input, renderNginxCache(spec), 'the local tier\'s renderer, byte for byte');
  assert.match(String(candidate.command.input), /max_size=2g/);
  const check = steps[5]!;
  assert.ok(check.kind === 'run');
  assert.deepEqual(check.command.argv.slice(-5), ['nginx', '-t', '-q', '-c', '/etc/nginx/nginx.conf.next']);
  assert.deepEqual(dataContainers(e).slice(-1), [CT]);
});

test('media cache on incus as wanted: nothing; a new config on a running nginx is checked then reloaded; a stopped nginx restarts', () => {
  const e = env({});
  const spec = incusCacheSpec(e, incusSettings(e));
  assert.deepEqual(spec.upstream, [{ host: 'veza-staging-minio.incus', port: 9000 }], 'the single MinIO');
  const wanted: CacheState = { exists: true, running: true, facts: { installed: '1', conf: sha256(renderNginxCache(spec)), active: 'active' } };
  const same = planIncusCache(ctx(e), spec, wanted);
  assert.deepEqual(same.steps, []);
  assert.deepEqual(same.notes, [`media cache in ${CT} runs with this config`]);
  assert.deepEqual(titles(planIncusCache(ctx(e), spec, { ...wanted, facts: { ...wanted.facts, conf: 'older' } }).steps), [
    `create ${CT}'s cache folders`, `write ${CT}'s candidate nginx.conf`, `nginx -t on ${CT}'s candidate`, `the checked config goes live in ${CT}`, `reload nginx in ${CT}`,
  ]);
  assert.deepEqual(titles(planIncusCache(ctx(e), spec, { ...wanted, facts: { ...wanted.facts, active: 'failed' } }).steps), [`restart nginx in ${CT}`]);
});
