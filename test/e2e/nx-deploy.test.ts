import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
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
 * and publishes veza-api, veza-stream and veza-web, provisions Postgres,
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
  const releaseManifest = async (sha: string) =>
    parseReleaseManifest(await fs.readFile(join(repo.dir, '.veza/registry/veza/generic/veza-release', sha, 'release.json'), 'utf8'), 'release.json', sha);

  const first = await repo.head();
  const up = await nx('run', 'infra-deploy:deploy', '--env=local');
  assert.equal(up.code, 0, up.out);
  assert.match(up.out, new RegExp(`release ${first} is live on green: http://veza\\.localhost:${PORT}`), 'the last line names the public URL');
  assert.equal(await publicRelease('/api/v1/status'), first);
  assert.equal(await publicRelease('/stream/status'), first);
  assert.equal(await publicRelease('/status.json'), first);

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
  const running = (rel: string) => rel.startsWith('envs/local/data/postgres/') || rel.startsWith('envs/local/data/log/') || rel.startsWith('edges/');
  const state = () => snapshotTree(join(repo.dir, '.veza'), running);
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
