import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { createLocalRegistry } from '../registry/local-registry';
import { artifactFile, tempDir } from '../registry/testing/fixtures';
import type { Registry } from '../registry/port';
import { buildReleaseManifest } from '../release/manifest';
import { fetchArtifacts, pruneArtifactCache } from './artifacts';
import { describeStep, type DeployStep } from './plan';

const SHA = 'ab'.repeat(20);

async function setup(t: { after(fn: () => Promise<void>): void }) {
  const dir = await tempDir(t);
  const real = createLocalRegistry(join(dir, 'registry'));
  const downloads: string[] = [];
  const registry: Registry = { ...real, download: (c, dest, sha) => (downloads.push(c.package), real.download(c, dest, sha)) };
  const a = await artifactFile(dir, 'veza-api.tar.zst', 4096);
  const coords = { owner: 'veza', package: 'veza-api', version: SHA, file: `veza-api-${SHA}.tar.zst` };
  await real.upload(coords, a.path, a.sha256);
  const manifest = buildReleaseManifest(SHA, [{ component: 'veza-api', ...coords, sha256: a.sha256, size: 4096 }], { owner: 'veza', createdAt: new Date() });
  return { dir, registry, downloads, manifest, a, published: join(dir, 'registry', 'veza', 'generic', 'veza-api', SHA, coords.file), cache: join(dir, 'cache') };
}

test('artifacts are fetched verified into a content-addressed cache and reused from it', async (t) => {
  const s = await setup(t);
  const got = await fetchArtifacts(s.registry, s.cache, s.manifest);
  assert.deepEqual(got, { 'veza-api': { path: join(s.cache, `${s.a.sha256}.tar.zst`), sha256: s.a.sha256 } });
  assert.deepEqual(await fs.readFile(got['veza-api']!.path), s.a.data);
  await fetchArtifacts(s.registry, s.cache, s.manifest);
  assert.deepEqual(s.downloads, ['veza-api'], 'the second fetch used the cache');
  // A cache file that no longer hashes right is fetched again.
  await fs.writeFile(got['veza-api']!.path, 'rot');
  await fetchArtifacts(s.registry, s.cache, s.manifest);
  assert.deepEqual(await fs.readFile(got['veza-api']!.path), s.a.data);
});

test('a tampered registry copy is refused and leaves nothing in the cache', async (t) => {
  const s = await setup(t);
  const bytes = await fs.readFile(s.published);
  bytes[100] ^= 1;
  await fs.writeFile(s.published, bytes);
  await assert.rejects(fetchArtifacts(s.registry, s.cache, s.manifest), (e: Error & { code?: string }) => e.code === 'ARTIFACT_MISMATCH');
  assert.deepEqual(await fs.readdir(s.cache).catch(() => []), []);
});

test('a dry run checks the registry copy, downloads nothing and writes nothing', async (t) => {
  const s = await setup(t);
  const plan: DeployStep[] = [];
  await fetchArtifacts(s.registry, s.cache, s.manifest, { plan: (step) => plan.push(step) });
  const download = { kind: 'cache-artifact', artifact: `veza/veza-api@${SHA}/veza-api-${SHA}.tar.zst`, sha256: s.a.sha256, path: join(s.cache, `${s.a.sha256}.tar.zst`), from: { registry: s.registry.describe(), size: 4096 } } as const;
  assert.deepEqual(plan, [download]);
  assert.match(describeStep(plan[0]!)[0]!, /^download veza\/veza-api@abab\S+ \(4096 bytes\) from local registry .* verifying sha256/);
  assert.deepEqual(s.downloads, []);
  await assert.rejects(fs.access(s.cache));
  await fs.writeFile(s.published, 'tampered');
  await assert.rejects(fetchArtifacts(s.registry, s.cache, s.manifest, { plan: () => undefined }), (e: Error & { code?: string }) => e.code === 'ARTIFACT_MISMATCH');
  await fs.rm(s.published);
  const unpublished: DeployStep[] = [];
  await fetchArtifacts(s.registry, s.cache, s.manifest, { plan: (step) => unpublished.push(step) });
  assert.deepEqual(unpublished, [{ ...download, from: { ...download.from, unpublished: true } }]);
  assert.match(describeStep(unpublished[0]!)[0]!, /^publish veza\/veza-api@\S+ \(not in local registry .* yet; the deploy target's publish step uploads it\), then download/);
});

test('the cache keeps the most recently used artifacts and the release in use, and prunes the rest', async (t) => {
  const s = await setup(t);
  await fs.mkdir(s.cache, { recursive: true });
  const names = ['1', '2', '3', '4'].map((d) => `${d.repeat(64)}.tar.zst`);
  for (const [i, f] of names.entries()) {
    await fs.writeFile(join(s.cache, f), f);
    const used = new Date(Date.UTC(2026, 0, 1 + i));
    await fs.utimes(join(s.cache, f), used, used);
  }
  await fs.writeFile(join(s.cache, 'notes.txt'), 'not an artifact');
  // A cache hit counts as a use: the oldest file becomes the newest.
  await fetchArtifacts(s.registry, s.cache, s.manifest);
  const fetched = `${s.a.sha256}.tar.zst`;
  const longAgo = new Date(Date.UTC(2025, 0, 1));
  await fs.utimes(join(s.cache, fetched), longAgo, longAgo);
  await fetchArtifacts(s.registry, s.cache, s.manifest);
  assert.deepEqual(s.downloads, ['veza-api'], 'the second fetch was a cache hit');
  const removed = await pruneArtifactCache(s.cache, ['1'.repeat(64)], 2);
  assert.deepEqual(removed.sort(), [names[1], names[2]]);
  assert.deepEqual((await fs.readdir(s.cache)).sort(), [names[0], names[3], fetched, 'notes.txt'].sort());
  assert.deepEqual(await pruneArtifactCache(join(s.dir, 'no-cache-yet'), [], 2), []);
});
