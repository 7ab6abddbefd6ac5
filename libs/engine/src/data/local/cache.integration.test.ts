import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { loadWorkspace } from '../../config/workspace';
import { tempWorkspace } from '../../hosts/local/testing/fixtures';
import { createMemoryLogger } from '../../log/logger';
import { operateData } from '../operate';
import { provisionData } from '../provision';
import { createDataTier } from '../tier';
import { cacheGet as get } from '../testing/cache-get';
import { localMinio } from './minio';
import { localPgPaths } from './postgres';
import { livePid } from './pids';

/**
 * The media cache wired from the environment file (`data.minio.cache`) and
 * the data tier's status, through the engine bodies of infra-data:provision
 * and infra-data:status, on real processes on 127.79.120.x: PostgreSQL,
 * three redis + sentinel nodes, MinIO (single) and nginx in front of it.
 * The app's S3_ENDPOINT is the cache; an upload and a presigned GET go
 * through it (S3 signs the Host, which the cache passes on); the segment is
 * MISS then HIT; with MinIO stopped the cached segment is still served;
 * stopping the tier stops the cache.
 */
const root = join(__dirname, '../../../../..');
const toolsDir = execFileSync('bash', [join(root, 'tools/scripts/minio-tools.sh')], { encoding: 'utf8' }).trim();

function envFile(maxSize: string): string {
  return `name: media
driver: local
prefix: veza-media-
publicHosts: [localhost]
publicUrl: http://localhost:1
edge: e
registry: { url: 'file:r', owner: veza }
local: { subnet: 127.79.120 }
data:
  postgres: { port: 18701 }
  redis: { topology: sentinel, port: 18710, sentinel: { port: 18720, downAfterMs: 2000 } }
  minio:
    binary: ${join(toolsDir, 'minio')}
    port: 18731
    cache: { port: 18750, statusPort: 18751, maxSize: ${maxSize} }
`;
}

test('media cache from the environment: provision starts it after nginx -t; uploads and presigned GETs go through it, MISS then HIT, served with MinIO stopped; status reports sentinels, drives and the hit ratio', async (t) => {
  const tmp = await tempWorkspace(t, 'media-cache');
  const write = async (rel: string, text: string) => {
    await fs.mkdir(join(tmp.dir, rel, '..'), { recursive: true });
    await fs.writeFile(join(tmp.dir, rel), text);
  };
  await write('infra/edges/e.yaml', 'name: e\nhost: local\nhttp: { port: 18790, addresses: [127.79.129.1] }\nruntime: { socketDir: /run/veza-unused }\n');
  await write('infra/environments/media.yaml', envFile('64m'));
  const log = createMemoryLogger();
  let workspace = await loadWorkspace(tmp.dir);
  tmp.defer(async () => createDataTier(workspace.env('media'), { workspaceRoot: tmp.dir, log }).stop());

  const plan = await provisionData({ workspace, env: 'media', log });
  const titles = plan.steps.map((s) => s.title);
  const check = titles.indexOf('media cache of media: nginx -t on the candidate');
  assert.ok(check >= 0 && check < titles.indexOf('media cache of media: the checked config goes live'), 'nginx -t runs on the candidate before it replaces the live config');
  assert.ok(titles.indexOf('media cache of media: start nginx on 127.79.120.50:18750') > titles.findIndex((x) => x.startsWith('minio node 0 of media: start')), 'the cache starts after MinIO');

  const tier = () => createDataTier(workspace.env('media'), { workspaceRoot: tmp.dir, log });
  const vars = await tier().serviceEnv!();
  assert.equal(vars.S3_ENDPOINT, 'http://127.79.120.50:18750', 'the apps reach MinIO through the cache');
  const again = await provisionData({ workspace, env: 'media', log });
  assert.deepEqual(again.steps.filter((s) => s.title.startsWith('media cache')), [], 'a running cache with the same config is left alone');

  // What an app does with S3_ENDPOINT: upload, then hand out a presigned URL, both through the cache.
  const mcEnv = { ...process.env, MC_HOST_app: `http://veza:${encodeURIComponent(vars.S3_SECRET_KEY!)}@127.79.120.50:18750`, MC_CONFIG_DIR: join(tmp.dir, 'mc') };
  const mc = (args: string[]) => {
    const r = spawnSync(join(toolsDir, 'mc'), ['--no-color', ...args], { env: mcEnv, encoding: 'utf8' });
    assert.equal(r.status, 0, `mc ${args.join(' ')}: ${r.stdout}${r.stderr}`);
    return r.stdout;
  };
  const segment = randomBytes(2 * 1024 * 1024 + 4321);
  await fs.writeFile(join(tmp.dir, 'seg.ts'), segment);
  mc(['cp', join(tmp.dir, 'seg.ts'), 'app/veza-media/tracks/1/0.ts']);
  // A HEAD through the cache keeps its signature (never turned into a GET) and is not cached.
  assert.match(mc(['stat', '--json', 'app/veza-media/tracks/1/0.ts']), new RegExp(`"size":\\s*${segment.length}\\b`));
  const url = (JSON.parse(mc(['share', 'download', '--json', '--expire', '1h', 'app/veza-media/tracks/1/0.ts'])) as { share: string }).share;
  assert.ok(url.startsWith('http://127.79.120.50:18750/veza-media/tracks/1/0.ts?'), url);

  const first = await get(url);
  assert.equal(first.status, 200);
  assert.equal(first.cache, 'MISS');
  assert.ok(first.body.equals(segment));
  const second = await get(url);
  assert.equal(second.cache, 'HIT');
  assert.ok(second.body.equals(segment));
  const dataRoot = localPgPaths(tmp.dir, 'media').root;
  const entries = execFileSync('find', [join(dataRoot, 'minio-cache/cache'), '-type', 'f'], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
  assert.equal(entries.length, 3, 'three 1 MiB slices on disk');

  const report = (await operateData({ workspace, env: 'media', action: 'status', json: true, log }))!;
  const { redis, minio, cache } = report.services;
  assert.equal(redis?.topology, 'sentinel');
  if (redis?.topology === 'sentinel') {
    assert.equal(redis.master, '127.79.120.21:18710', 'the sentinels name node 0');
    assert.ok(redis.agreed);
    assert.deepEqual(redis.replicas.map((r) => r.address).sort(), ['127.79.120.22:18710', '127.79.120.23:18710']);
    assert.ok(redis.replicas.every((r) => r.linkStatus === 'ok'), JSON.stringify(redis.replicas));
  }
  assert.equal(minio?.mode, 'online');
  assert.deepEqual([minio?.drivesOnline, minio?.drivesOffline, minio?.healing], [1, 0, 0]);
  assert.equal(minio?.servers[0]?.drives[0]?.state, 'ok');
  assert.equal(cache?.running, true);
  assert.equal(cache?.counts.byStatus.MISS, 1);
  assert.equal(cache?.counts.byStatus.HIT, 1);
  assert.equal(cache?.counts.hitRatio, 0.5);
  assert.ok(cache!.diskBytes >= segment.length);
  assert.ok(cache?.connections, 'stub_status answers');
  const text = createMemoryLogger();
  await operateData({ workspace, env: 'media', action: 'status', log: text });
  assert.ok(text.lines.some((l) => l.includes('master 127.79.120.21:18710') && l.includes('3/3 sentinels answer')), text.lines.join('\n'));
  assert.ok(text.lines.some((l) => l.includes('hit ratio 50.0 % (1 of 2 lookups)')), text.lines.join('\n'));
  assert.ok(!text.lines.some((l) => l.includes(vars.S3_SECRET_KEY!)), 'no password in the status');

  // The MinIO alert rules read metrics this MinIO really exposes (scraped as Prometheus would, with mc's bearer token).
  const token = /bearer_token: (\S+)/.exec(mc(['admin', 'prometheus', 'generate', 'app']))![1]!;
  const metrics = (await get('http://127.79.120.31:18731/minio/v2/metrics/cluster', { Authorization: `Bearer ${token}` })).body.toString();
  const read = [...(await fs.readFile(join(root, 'infra/prometheus/veza-data.rules.yml'), 'utf8')).matchAll(/\bminio_[a-z_]+/g)].map((x) => x[0]);
  assert.deepEqual([...new Set(read)].sort(), ['minio_cluster_drive_offline_total', 'minio_cluster_nodes_offline_total']);
  for (const name of read) assert.match(metrics, new RegExp(`^${name}\\{[^}]*\\} 0$`, 'm'), `${name} is exposed by MinIO (0 while all is well)`);

  // MinIO stopped: the cached segment is still served.
  const m = localMinio(workspace.env('media'), dataRoot)!;
  const minioPid = livePid(m.nodes[0]!.pidFile, 'minio')!;
  process.kill(minioPid, 'SIGTERM');
  for (let i = 0; i < 100 && livePid(m.nodes[0]!.pidFile, 'minio'); i++) await new Promise((r) => setTimeout(r, 100));
  const served = await get(url);
  assert.equal(served.status, 200, 'MinIO is down and the cache still serves the segment');
  assert.ok(served.body.equals(segment));
  const down = (await operateData({ workspace, env: 'media', action: 'status', json: true, log }))!;
  assert.notEqual(down.services.minio?.mode, 'online', 'status says MinIO is not there');

  // A changed setting: the new config is checked, then the running nginx reloads (same pid).
  const nginxPid = livePid(join(dataRoot, 'minio-cache/nginx.pid'), 'nginx');
  await write('infra/environments/media.yaml', envFile('128m'));
  workspace = await loadWorkspace(tmp.dir);
  const changed = (await provisionData({ workspace, env: 'media', log })).steps.map((s) => s.title).filter((x) => x.startsWith('media cache'));
  assert.deepEqual(changed.filter((x) => !x.endsWith(': folder')), ['media cache of media: candidate nginx.conf', 'media cache of media: nginx -t on the candidate', 'media cache of media: the checked config goes live', `media cache of media: reload (pid ${nginxPid})`]);
  assert.match(await fs.readFile(join(dataRoot, 'minio-cache/nginx.conf'), 'utf8'), /max_size=128m/);
  assert.equal(livePid(join(dataRoot, 'minio-cache/nginx.pid'), 'nginx'), nginxPid);
  assert.equal((await get(url)).cache, 'HIT', 'the cache survives the reload');

  // Stopping the tier (infra-deploy:down) stops the cache with it.
  await tier().stop();
  assert.equal(livePid(join(dataRoot, 'minio-cache/nginx.pid'), 'nginx'), undefined, 'nginx stopped');
  assert.equal(livePid(m.nodes[0]!.pidFile, 'minio'), undefined, 'minio stopped');
});
