import assert from 'node:assert/strict';
import { promises as fs, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { WORKSPACE_ROOT } from '../testing/workspace-tree';
import { GO_SOURCE_VARS, goCaches } from '@veza/engine/build/presets/go';
import { SOURCE_DATE_EPOCH } from '@veza/engine/build/presets/cargo';
import { createNodesV2 } from './component-nodes';

const [pattern, createNodes] = createNodesV2;
const context = (workspaceRoot: string) => ({ workspaceRoot, nxJsonConfiguration: {} });

test('registered in nx.json for every apps/*/component.json', () => {
  const nxJson = JSON.parse(readFileSync(join(WORKSPACE_ROOT, 'nx.json'), 'utf8'));
  assert.deepEqual(nxJson.plugins, ['./tools/generators/component-nodes.js']);
  assert.equal(pattern, 'apps/*/component.json');
});

test("nx.json's JS entry serves this plugin, bundled from this source", async () => {
  const entry: { createNodesV2: typeof createNodesV2 } = require(join(WORKSPACE_ROOT, 'tools/generators/component-nodes.js'));
  const [bundledPattern, bundledCreateNodes] = entry.createNodesV2;
  assert.equal(bundledPattern, pattern);
  const files = readdirSync(join(WORKSPACE_ROOT, 'apps')).map((a) => `apps/${a}/component.json`).sort();
  assert.deepEqual(await bundledCreateNodes(files, undefined, context(WORKSPACE_ROOT)), await createNodes(files, undefined, context(WORKSPACE_ROOT)));
});

test('the existing components get their project: TypeScript ones test with the workspace runner, Go and Rust ones with their toolchain', async () => {
  const files = readdirSync(join(WORKSPACE_ROOT, 'apps')).map((a) => `apps/${a}/component.json`).sort();
  const results = await createNodes(files, undefined, context(WORKSPACE_ROOT));
  assert.deepEqual(results.map(([file]) => file), files);
  const presets: Record<string, string> = {};
  for (const [file, result] of results) {
    const root = file.replace('/component.json', '');
    const name = root.slice('apps/'.length);
    const project = result.projects![root];
    presets[name] = JSON.parse(readFileSync(join(WORKSPACE_ROOT, file), 'utf8')).build.preset;
    assert.deepEqual([project.name, project.projectType, project.tags], [name, 'application', ['type:component']]);
    assert.deepEqual(
      { build: project.targets!.build, package: project.targets!.package, publish: project.targets!.publish },
      { build: { executor: '@veza/executors:build' }, package: { executor: '@veza/executors:package' }, publish: { executor: '@veza/executors:publish', options: { env: 'local' } } },
    );
  }
  assert.deepEqual(presets, { 'veza-api': 'go', 'veza-stream': 'cargo', 'veza-web': 'vite' });
  const byName = Object.fromEntries(results.map(([file, r]) => [file.split('/')[1], r.projects![file.replace('/component.json', '')]]));
  assert.deepEqual(byName['veza-web'].targets!.test, { executor: 'nx:run-commands', options: { command: 'node tools/scripts/run-tests.mjs apps/veza-web' } });
  assert.equal(byName['veza-web'].namedInputs, undefined, 'the web app keeps the shared inputs (package-lock.json, tsconfig)');
  assert.deepEqual(byName['veza-api'].targets!.test.options.commands, ['go vet ./...', 'go test ./...']);
  assert.equal(byName['veza-stream'].targets!.test.options.command, 'cargo test --locked');
});

async function workspace(t: { after(fn: () => unknown): void }, components: Record<string, unknown>[]): Promise<string> {
  const root = await fs.mkdtemp(join(tmpdir(), 'veza-nodes-'));
  t.after(() => fs.rm(root, { recursive: true, force: true }));
  for (const c of components) {
    await fs.mkdir(join(root, 'apps', String(c.name)), { recursive: true });
    await fs.writeFile(join(root, 'apps', String(c.name), 'component.json'), JSON.stringify(c));
  }
  return root;
}

const run = { command: ['./x'], port: 9000, health: '/h' };

test('go and cargo components test with their own toolchain, in the environment their build uses', async (t) => {
  const root = await workspace(t, [
    { name: 'demo-go', build: { preset: 'go', binaries: ['demo-go'] }, run },
    { name: 'demo-rs', build: { preset: 'cargo', binaries: ['demo-rs'] }, run: { ...run, port: 9001 } },
  ]);
  const [[, go], [, rs]] = await createNodes(['apps/demo-go/component.json', 'apps/demo-rs/component.json'], undefined, context(root));
  const goTest = go.projects!['apps/demo-go'].targets!.test;
  assert.deepEqual(goTest.options.commands, ['go vet ./...', 'go test ./...']);
  assert.equal(goTest.options.parallel, false);
  assert.equal(goTest.options.cwd, 'apps/demo-go');
  const caches = goCaches(process.env);
  assert.deepEqual({ ...goTest.options.env, ...Object.fromEntries(GO_SOURCE_VARS.map((k) => [k, undefined])) }, {
    ...Object.fromEntries(GO_SOURCE_VARS.map((k) => [k, undefined])),
    CGO_ENABLED: '0', GOFLAGS: '-buildvcs=false -trimpath -mod=readonly', GOTOOLCHAIN: 'local', GOCACHE: caches.goCache, GOMODCACHE: caches.goModCache,
  });
  assert.deepEqual(rs.projects!['apps/demo-rs'].targets!.test.options, { command: 'cargo test --locked', cwd: 'apps/demo-rs', env: { CARGO_TARGET_DIR: '../../dist/.cache/cargo/demo-rs', SOURCE_DATE_EPOCH } });
  assert.deepEqual(rs.projects!['apps/demo-rs'].tags, ['type:component']);
  // Their hash is their own folder and toolchain, not the npm lockfile or the TypeScript config.
  assert.deepEqual(go.projects!['apps/demo-go'].namedInputs, { default: ['{projectRoot}/**/*', 'goToolchain'], testRunner: [] });
  assert.deepEqual(rs.projects!['apps/demo-rs'].namedInputs, { default: ['{projectRoot}/**/*', 'cargoToolchain'], testRunner: [] });
});

test('an invalid component.json fails the graph with the file and the reason', async (t) => {
  const root = await workspace(t, [{ name: 'other-name', build: { preset: 'node', entries: { server: 'a.ts' } }, run }]);
  await fs.rename(join(root, 'apps', 'other-name'), join(root, 'apps', 'demo'));
  await assert.rejects(Promise.resolve(createNodes(['apps/demo/component.json'], undefined, context(root))), (e: Error & { errors?: [string, Error][] }) => {
    assert.match(e.errors?.[0]?.[1]?.message ?? e.message, /apps\/demo\/component\.json: name "other-name" differs from its folder "demo"/);
    return true;
  });
});
