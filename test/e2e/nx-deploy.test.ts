import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { request } from 'node:http';
import { loadWorkspace } from '@veza/engine/config/workspace';
import { localSlotsDir } from '@veza/engine/hosts/local/paths';
import { slotName } from '@veza/engine/hosts/naming';
import { httpGet } from '@veza/engine/util/http';
import { reportedRelease } from '@veza/engine/deploy/probe';
import { parseReleaseManifest } from '@veza/engine/release/manifest';
import type { StatusReport } from '@veza/engine/deploy/status';
import { copyRepository } from './support/copy';
import { stopEverything } from './support/workspace';
import { snapshotTree } from './support/tree';

/**
 * The README's main job on the real components, through the real Nx task
 * graph: `nx run infra-deploy:deploy --env=local` tests, builds, packages
 * and publishes veza-api (Go), veza-stream (Rust) and veza-web (React),
 * provisions Postgres,
 * starts the edge and deploys — in a copy of this repository, on a loopback
 * subnet and port of its own. It shares this checkout's Nx cache, so what
 * was built here is not built again.
 */
const SUBNET = '127.79.5';
const PORT = 18405;

test('npx nx run infra-deploy:deploy brings local up end to end, then is a no-op, then rebuilds only what changed', async (t) => {
  const repo = await copyRepository(t, { subnet: SUBNET, port: PORT });
  repo.defer(() => stopEverything(repo.dir, 'local'));
  const nx = repo.nx;
  const publicRelease = async (path: string) => {
    const r = await httpGet({ host: `${SUBNET}.1`, port: PORT, hostHeader: `veza.localhost:${PORT}`, path, timeoutMs: 5_000 });
    return reportedRelease(r.body);
  };
  /** Bytes, not text: segments are binary. */
  const publicGet = (path: string) =>
    new Promise<{ status: number; type: string | undefined; body: Buffer }>((resolve, reject) => {
      const req = request({ host: `${SUBNET}.1`, port: PORT, path, headers: { host: `veza.localhost:${PORT}` }, timeout: 5_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c)).on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], body: Buffer.concat(chunks) }));
      });
      req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`))).on('error', reject).end();
    });
  const releaseManifest = async (sha: string) =>
    parseReleaseManifest(await fs.readFile(join(repo.dir, '.veza/registry/veza/generic/veza-release', sha, 'release.json'), 'utf8'), 'release.json', sha);

  const first = await repo.head();
  const up = await nx('run', 'infra-deploy:deploy', '--env=local');
  assert.equal(up.code, 0, up.out);
  assert.match(up.out, new RegExp(`release ${first} is live on green: http://veza\\.localhost:${PORT}`), 'the last line names the public URL');
  assert.equal(await publicRelease('/api/v1/status'), first);
  assert.equal(await publicRelease('/stream/status'), first);
  assert.equal(await publicRelease('/status.json'), first);

  // What answers is what the pipeline built: the Go binary (stamped with the release it was built
  // as, reporting the schema migrate_tool applied), the Rust binary's HLS, the pre-rendered React page.
  const env = (await loadWorkspace(repo.dir)).env('local');
  const running = async (component: string) => {
    const { pid } = JSON.parse(await fs.readFile(join(localSlotsDir(repo.dir, 'local'), slotName(env, component, 'green'), 'child.pid'), 'utf8')) as { pid: number };
    return fs.readlink(`/proc/${pid}/exe`);
  };
  assert.match(await running('veza-api'), /\/app\/veza-api$/);
  assert.match(await running('veza-stream'), /\/app\/veza-stream$/);
  const api = JSON.parse((await publicGet('/api/v1/status')).body.toString('utf8')) as Record<string, unknown>;
  assert.deepEqual([api.release, api.build, api.database, api.schemaVersion], [first, first, 'ok', '0002_playlists']);
  const playlist = await publicGet('/tracks/Track_01-a/index.m3u8');
  assert.equal(playlist.status, 200);
  assert.equal(playlist.type, 'application/vnd.apple.mpegurl');
  const segments = playlist.body.toString('utf8').split('\n').filter((l) => l.endsWith('.ts'));
  assert.ok(segments.length >= 4, playlist.body.toString('utf8'));
  const segment = await publicGet(`/tracks/Track_01-a/${segments[0]}`);
  assert.deepEqual([segment.status, segment.type, segment.body.length % 188, segment.body[0]], [200, 'video/mp2t', 0, 0x47]);
  const page = (await publicGet('/')).body.toString('utf8');
  assert.match(page, new RegExp(`<dt>Web release</dt><dd class="mono">${first}</dd>`), 'the page shows the sha');

  const again = await nx('run', 'infra-deploy:deploy', '--env=local');
  assert.equal(again.code, 0, again.out);
  assert.match(again.out, new RegExp(`release ${first} is already deployed on green`));

  await fs.appendFile(join(repo.dir, 'apps/veza-web/index.html'), '<!-- a change to veza-web only -->\n');
  const second = await repo.commit('veza-web only');
  const web = await nx('run', 'infra-deploy:deploy', '--env=local');
  assert.equal(web.code, 0, web.out);
  for (const p of ['veza-api', 'veza-stream']) {
    assert.match(web.out, new RegExp(`nx run ${p}:build.*\\[(local cache|existing outputs match the cache, left as is)\\]`), `${p} is not rebuilt`);
  }
  assert.match(web.out, /> nx run veza-web:build\s*\n/, 'veza-web is rebuilt');
  const [r1, r2] = [await releaseManifest(first), await releaseManifest(second)];
  assert.deepEqual(r2.components['veza-api'], r1.components['veza-api'], 'the release reuses the veza-api artifact');
  assert.equal(r2.components['veza-web']!.version, second);
  assert.equal(await publicRelease('/api/v1/status'), second);

  const st = await nx('run', 'infra-deploy:status', '--env=local', '--json');
  const json = /^\{\n[^]*?\n\}$/m.exec(st.stdout)?.[0];
  assert.ok(json, st.out);
  const report = JSON.parse(json) as StatusReport;
  assert.deepEqual([report.env, report.activeColor, report.release, report.publicUrl], ['local', 'blue', second, `http://veza.localhost:${PORT}`]);
  assert.deepEqual(report.components.map((c) => c.health), ['ok', 'ok', 'ok']);

  // Refusals through the commands users type: exit 1 (never 130), one clear line, nothing under .veza/ changed.
  const serverOwned = (rel: string) => rel.startsWith('envs/local/data/postgres/') || rel.startsWith('envs/local/data/log/') || rel.startsWith('edges/');
  const state = () => snapshotTree(join(repo.dir, '.veza'), serverOwned);
  const before = await state();
  const unpublished = await nx('run', 'infra-deploy:deploy', '--env=local', `--sha=${'6f'.repeat(20)}`);
  assert.equal(unpublished.code, 1, unpublished.out);
  assert.match(unpublished.out, new RegExp(`release ${'6f'.repeat(20)} is not published`));
  assert.deepEqual(await state(), before, 'a refused deploy changes nothing under .veza');

  const edgeFile = join(repo.dir, 'infra/edges/local-edge.yaml');
  const edgeText = await fs.readFile(edgeFile, 'utf8');
  await fs.writeFile(edgeFile, `${edgeText}drainMS: 1\n`);
  const broken = await nx('run', 'infra-deploy:deploy', '--env=local');
  await fs.writeFile(edgeFile, edgeText);
  assert.equal(broken.code, 1, `a failed dependency (infra-edge:render) exits 1, not 130: ${broken.out}`);
  assert.match(broken.out, /local-edge\.yaml:\d+: drainMS: unknown key/);
  assert.deepEqual(await state(), before, 'nothing ran after the failed dependency');

  const badEnv = await nx('run-many', '-t', 'publish', '--env=BAD');
  assert.equal(badEnv.code, 1, badEnv.out);
  assert.match(badEnv.out, /invalid environment name "BAD" — use one of: /);
  assert.doesNotMatch(badEnv.out, /UnhandledPromiseRejection/);
  assert.equal(await publicRelease('/api/v1/status'), second, 'the live release still serves');
});
