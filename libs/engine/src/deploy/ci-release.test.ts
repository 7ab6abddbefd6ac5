import { loadWorkspace } from '../config/workspace';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { createMemoryLogger } from '../log/logger';
import { createLocalRegistry } from '../registry/local-registry';
import { publishArtifact } from '../registry/publish-artifact';
import { artifactFile, tempDir } from '../registry/testing/fixtures';
import { findPublishedRelease } from './release';
import { publishCiRelease } from './ci-release';

const COMPONENTS = ['veza-api', 'veza-stream', 'veza-web'];
const REPO_ROOT = join(__dirname, '../../../..');

/** A git workspace with the three real component declarations and a `file:` registry environment. */
async function workspace(t: Parameters<typeof tempDir>[0]) {
  const root = await tempDir(t, 'veza-ci-release-');
  const git = (...args: string[]) => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { cwd: root, encoding: 'utf8' }).trim();
  await fs.mkdir(join(root, 'infra/environments'), { recursive: true });
  await fs.writeFile(join(root, 'infra/environments/ci.yaml'), [
    'name: ci', 'driver: local', 'prefix: veza-ci-', 'publicHosts: [localhost]', 'publicUrl: http://localhost:18099', 'edge: local-edge',
    'registry: { url: "file:.veza/registry", owner: veza }', 'local: { subnet: 127.77.99 }', '',
  ].join('\n'));
  await fs.mkdir(join(root, 'infra/edges'), { recursive: true });
  await fs.copyFile(join(REPO_ROOT, 'infra/edges/local-edge.yaml'), join(root, 'infra/edges/local-edge.yaml'));
  for (const c of COMPONENTS) {
    await fs.mkdir(join(root, 'apps', c), { recursive: true });
    await fs.copyFile(join(REPO_ROOT, 'apps', c, 'component.json'), join(root, 'apps', c, 'component.json'));
    await fs.writeFile(join(root, 'apps', c, 'code.txt'), `${c} v1\n`);
  }
  await fs.writeFile(join(root, '.gitignore'), 'dist/\n.veza/\n');
  git('init', '-q', '-b', 'main');
  const commit = async (message: string, files: Record<string, string> = {}) => {
    for (const [f, text] of Object.entries(files)) await fs.writeFile(join(root, f), text);
    git('add', '-A');
    git('commit', '-q', '--allow-empty', '-m', message);
    return git('rev-parse', 'HEAD');
  };
  const registry = createLocalRegistry(join(root, '.veza/registry'));
  const log = createMemoryLogger();
  const builds: string[][] = [];
  /** What the executor's Nx run does, minus the toolchains: package at HEAD, then publish unless told not to. */
  const builder = (opts: { publish: boolean } = { publish: true }) => async (names: string[], secrets: string[]) => {
    builds.push(names);
    assert.deepEqual(secrets, [], 'the ci environment names no secret');
    const version = git('rev-parse', 'HEAD');
    for (const c of names) {
      const dir = join(root, 'dist/artifacts', c);
      await fs.rm(dir, { recursive: true, force: true });
      await fs.mkdir(dir, { recursive: true });
      const file = `${c}-${version}.tar.zst`;
      const a = await artifactFile(dir, file, 64);
      await fs.writeFile(join(dir, 'manifest.json'), JSON.stringify({ component: c, package: c, version, file, sha256: a.sha256, size: 64, fileCount: 1 }));
      if (opts.publish) await publishArtifact({ workspace: await loadWorkspace(root), project: c, env: 'ci', log });
    }
  };
  const release = async (sha: string, build = builder()) => publishCiRelease({
    workspace: await loadWorkspace(root), env: 'ci', sha, inputPaths: Object.fromEntries(COMPONENTS.map((c) => [c, [`apps/${c}`]])), build, log, processEnv: {},
  });
  return { root, commit, registry, builds, builder, release };
}

const versions = (m: { components: Record<string, { version: string }> }) => Object.fromEntries(Object.entries(m.components).map(([c, e]) => [c, e.version]));

test('a release keeps the artifacts of unchanged components and builds only the changed one', async (t) => {
  const ws = await workspace(t);
  const a = await ws.commit('first');
  const first = await ws.release(a);
  assert.deepEqual(first.built, COMPONENTS, 'nothing published yet: every component is built');

  const b = await ws.commit('change the api', { 'apps/veza-api/code.txt': 'veza-api v2\n' });
  const second = await ws.release(b);
  assert.equal(second.status, 'created');
  assert.deepEqual(second.built, ['veza-api'], 'only the changed component is built');
  assert.deepEqual(second.reused, { 'veza-stream': a, 'veza-web': a });
  assert.deepEqual(versions(second.release.manifest), { 'veza-api': b, 'veza-stream': a, 'veza-web': a }, 'the unchanged point at their older published artifacts');
  for (const c of ['veza-stream', 'veza-web']) assert.deepEqual(second.release.manifest.components[c], first.release.manifest.components[c]);
  for (const c of COMPONENTS) assert.equal(second.release.manifest.components[c]!.declaration?.name, c, 'every entry carries its declaration');
  assert.deepEqual((await findPublishedRelease(ws.registry, 'veza', b))?.manifest, second.release.manifest);

  const again = await ws.release(b);
  assert.equal(again.status, 'exists');
  assert.deepEqual(ws.builds, [COMPONENTS, ['veza-api']], 'releasing a published sha again builds nothing');

  const c = await ws.commit('docs only', { 'README.md': 'no component input\n' });
  assert.deepEqual(versions((await ws.release(c)).release.manifest), { 'veza-api': b, 'veza-stream': a, 'veza-web': a });
  assert.equal(ws.builds.length, 2, 'a change outside every component builds nothing');

  // An artifact a reused entry names is gone (deleted by hand): that component is built again rather than left dangling.
  await fs.rm(join(ws.root, '.veza/registry/veza/generic/veza-stream', a), { recursive: true });
  const d = await ws.commit('empty');
  const fourth = await ws.release(d);
  assert.deepEqual(fourth.built, ['veza-stream']);
  assert.deepEqual(versions(fourth.release.manifest), { 'veza-api': b, 'veza-stream': d, 'veza-web': a });
});

test('a release naming an artifact the registry does not hold is refused at publish time', async (t) => {
  const ws = await workspace(t);
  await ws.release(await ws.commit('first'));
  const b = await ws.commit('change the web app', { 'apps/veza-web/code.txt': 'veza-web v2\n' });
  await assert.rejects(ws.release(b, ws.builder({ publish: false })), (e: Error & { code?: string; hint?: string }) => {
    assert.equal(e.code, 'ARTIFACT_NOT_FOUND');
    assert.match(e.message, new RegExp(`release ${b} would point veza-web at veza/veza-web@${b}/veza-web-${b}\\.tar\\.zst, which .* does not hold; the release was not published`));
    assert.match(e.hint ?? '', new RegExp(`npx nx run veza-web:publish --env=ci\\), then run npx nx run infra-deploy:release --env=ci --sha=${b} again`));
    return true;
  });
  assert.equal(await findPublishedRelease(ws.registry, 'veza', b), undefined, 'no manifest was published');
});

test('a release is made only from a checkout of its own sha', async (t) => {
  const ws = await workspace(t);
  const a = await ws.commit('first');
  await ws.commit('second');
  await assert.rejects(ws.release(a), (e: Error & { code?: string; hint?: string }) =>
    e.code === 'INVALID_INPUT' && new RegExp(`not release ${a}`).test(e.message) && new RegExp(`check out ${a}`).test(e.hint ?? ''));
  assert.deepEqual(ws.builds, []);
});
