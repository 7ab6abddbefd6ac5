import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { stringify } from 'yaml';
import type { ExecutorContext, TaskGraph } from '@nx/devkit';
import { sha256, tempDir } from '@veza/engine/registry/testing/fixtures';
import type { PackageManifest } from '@veza/engine/artifact/manifest';
import publishBatch, { type PublishTaskOutcome } from './batch';

const VERSION = 'local-0123456789ab';

/** A workspace with the `local` (directory registry) environment; only veza-api is packaged. */
async function workspace(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const root = await tempDir(t, 'veza-publish-batch-');
  await fs.mkdir(join(root, 'infra/environments'), { recursive: true });
  await fs.writeFile(join(root, 'infra/environments/local.yaml'), stringify({
    name: 'local', driver: 'local', prefix: 'veza-local-', publicHosts: ['localhost'], publicUrl: 'http://localhost:18080',
    edge: 'local-edge', registry: { url: 'file:.veza/registry', owner: 'veza' }, local: { subnet: '127.77.1' },
  }));
  // An environment must name an existing edge file, even for a publish.
  await fs.mkdir(join(root, 'infra/edges'));
  await fs.writeFile(join(root, 'infra/edges/local-edge.yaml'), stringify({ name: 'local-edge', host: 'incus', runtime: { socketDir: '/run/haproxy' } }));
  const dir = join(root, 'dist/artifacts/veza-api');
  await fs.mkdir(dir, { recursive: true });
  const data = randomBytes(4096);
  const file = `veza-api-${VERSION}.tar.zst`;
  await fs.writeFile(join(dir, file), data);
  const manifest: PackageManifest = { component: 'veza-api', package: 'veza-api', version: VERSION, file, sha256: sha256(data), size: data.length, fileCount: 1 };
  await fs.writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest));
  return root;
}

async function batchOf(root: string, projects: string[]) {
  const tasks = Object.fromEntries(projects.map((p) => [`${p}:publish`, { id: `${p}:publish`, target: { project: p, target: 'publish' }, overrides: {}, outputs: [], parallelism: true }]));
  const taskGraph = { roots: Object.keys(tasks), tasks, dependencies: {}, continuousDependencies: {} } as unknown as TaskGraph;
  const inputs = Object.fromEntries(projects.map((p) => [`${p}:publish`, { env: 'local' }]));
  const context = { root, cwd: root, isVerbose: false } as ExecutorContext;
  const results: Record<string, PublishTaskOutcome['result']> = {};
  for await (const { task, result } of publishBatch(taskGraph, inputs, {}, context)) results[task] = result;
  return results;
}

test('each batched publish reports its own result and its own lines, and a wiped registry is refilled', async (t) => {
  const root = await workspace(t);
  const stored = join(root, '.veza/registry/veza/generic/veza-api', VERSION, `veza-api-${VERSION}.tar.zst`);

  const first = await batchOf(root, ['veza-api', 'veza-web']);
  assert.equal(first['veza-api:publish']!.success, true);
  assert.match(first['veza-api:publish']!.terminalOutput, /^published veza\/veza-api@/m);
  assert.equal(first['veza-web:publish']!.success, false, 'an unpackaged component fails on its own');
  assert.match(first['veza-web:publish']!.terminalOutput, /veza-web/);
  assert.doesNotMatch(first['veza-api:publish']!.terminalOutput, /veza-web/, 'no task carries another task’s lines');
  await fs.access(stored);

  const again = await batchOf(root, ['veza-api']);
  assert.match(again['veza-api:publish']!.terminalOutput, /already published with identical content/);

  await fs.rm(join(root, '.veza/registry'), { recursive: true });
  const refill = await batchOf(root, ['veza-api']);
  assert.equal(refill['veza-api:publish']!.success, true);
  assert.match(refill['veza-api:publish']!.terminalOutput, /^published veza\/veza-api@/m);
  await fs.access(stored);
});
