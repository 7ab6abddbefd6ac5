import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { createLocalRegistry } from '../registry/local-registry';
import { artifactFile, tempDir } from '../registry/testing/fixtures';
import { buildReleaseManifest, releaseManifestCoords, serializeReleaseManifest } from '../release/manifest';
import { componentSchema, runtimeDeclaration, type ComponentDeclaration } from '../config/component';
import { assembleRelease, fetchRelease, findPublishedRelease, publishRelease, releaseDeclarations } from './release';

const SHA = '1234567890abcdef1234567890abcdef12345678';
const OTHER = 'fedcba0987654321fedcba0987654321fedcba09';

function manifest(createdAt: string, sha256 = 'a'.repeat(64)) {
  return buildReleaseManifest(SHA, [{ component: 'veza-api', package: 'veza-api', version: OTHER, file: `veza-api-${OTHER}.tar.zst`, sha256, size: 10 }], { owner: 'veza', createdAt: new Date(createdAt) });
}

test('a release manifest is published once; the same bytes again are "exists"', async (t) => {
  const registry = createLocalRegistry(await tempDir(t));
  const m = manifest('2026-04-29T12:00:00Z');
  const first = await publishRelease(registry, 'veza', m);
  assert.equal(first.status, 'created');
  assert.equal((await publishRelease(registry, 'veza', m)).status, 'exists');
  assert.equal(await registry.remoteSha256(releaseManifestCoords('veza', SHA)), first.release.ref.sha256);
  const found = await findPublishedRelease(registry, 'veza', SHA);
  assert.deepEqual(found, first.release);
  assert.equal(await findPublishedRelease(registry, 'veza', OTHER), undefined);
});

test('a manifest already published with the same artifacts is the release; other artifacts are refused', async (t) => {
  const registry = createLocalRegistry(await tempDir(t));
  const published = await publishRelease(registry, 'veza', manifest('2026-04-29T12:00:00Z'));
  const later = await publishRelease(registry, 'veza', manifest('2026-05-01T08:00:00Z'));
  assert.equal(later.status, 'exists');
  assert.deepEqual(later.release, published.release, 'the published manifest (and its sha256) is kept');
  await assert.rejects(publishRelease(registry, 'veza', manifest('2026-04-29T12:00:00Z', 'b'.repeat(64))), (e: Error & { code?: string }) => e.code === 'RELEASE_IMMUTABLE');
});

test('a published manifest is fetched only if it hashes to what the history recorded', async (t) => {
  const registry = createLocalRegistry(await tempDir(t));
  const { release } = await publishRelease(registry, 'veza', manifest('2026-04-29T12:00:00Z'));
  assert.deepEqual((await fetchRelease(registry, 'veza', SHA, release.ref.sha256)).manifest, release.manifest);
  await assert.rejects(fetchRelease(registry, 'veza', SHA, 'c'.repeat(64)), (e: Error & { code?: string }) => e.code === 'ARTIFACT_MISMATCH');
});

test('a release is assembled from every component\'s package manifest', async (t) => {
  const root = await tempDir(t);
  const decl = (name: string) => ({ name, run: {} }) as unknown as ComponentDeclaration;
  const write = async (c: string, version: string) => {
    const dir = join(root, 'dist/artifacts', c);
    await fs.mkdir(dir, { recursive: true });
    const a = await artifactFile(dir, `${c}-${version}.tar.zst`, 100);
    await fs.writeFile(join(dir, 'manifest.json'), JSON.stringify({ component: c, package: c, version, file: `${c}-${version}.tar.zst`, sha256: a.sha256, size: 100, fileCount: 1 }));
    return a.sha256;
  };
  const apiSha = await write('veza-api', OTHER);
  const opts = { owner: 'veza', allowLocalVersions: false, createdAt: new Date('2026-04-29T12:00:00Z') };
  await assert.rejects(assembleRelease(root, SHA, [decl('veza-api'), decl('veza-web')], opts), (e: Error & { code?: string; hint?: string }) =>
    e.code === 'MISSING_ARTIFACT' && /veza-web/.test(e.message) && /nx run veza-web:publish/.test(e.hint ?? ''));
  await write('veza-web', 'local-0123456789ab');
  await assert.rejects(assembleRelease(root, SHA, [decl('veza-api'), decl('veza-web')], opts), (e: Error & { code?: string }) => e.code === 'DIRTY_RELEASE');
  const m = await assembleRelease(root, SHA, [decl('veza-api'), decl('veza-web')], { ...opts, allowLocalVersions: true });
  assert.equal(m.components['veza-api']!.sha256, apiSha);
  assert.equal(m.components['veza-api']!.version, OTHER, 'an artifact reused from an older build keeps its version');
  assert.equal(m.components['veza-web']!.version, 'local-0123456789ab');
  assert.ok(serializeReleaseManifest(m).endsWith('\n'));
});

test('a release runs as its manifest declares; the workspace stands in only for a manifest that recorded nothing', () => {
  const decl = (name: string, health: string) => runtimeDeclaration(componentSchema.parse({ name, build: { preset: 'node' }, run: { command: ['node', 'server.js'], port: name === 'veza-api' ? 8080 : 8081, health } }));
  const entry = (component: string) => ({ component, package: component, version: OTHER, file: `${component}-${OTHER}.tar.zst`, sha256: 'a'.repeat(64), size: 10 });
  const m = buildReleaseManifest(SHA, [{ ...entry('veza-api'), declaration: decl('veza-api', '/old-health') }, entry('veza-web')], { owner: 'veza', createdAt: new Date('2026-04-29T12:00:00Z') });
  const workspace = [decl('veza-api', '/new-health'), decl('veza-web', '/healthz'), decl('veza-extra', '/x')];
  assert.deepEqual(releaseDeclarations(m, workspace).map((d) => `${d.name} ${d.run.health}`), ['veza-api /old-health', 'veza-web /healthz'],
    'the manifest\'s declaration wins; a component outside the release is not deployed');
});
