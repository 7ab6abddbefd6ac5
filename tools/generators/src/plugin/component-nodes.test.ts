import assert from 'node:assert/strict';
import { promises as fs, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { WORKSPACE_ROOT } from '../testing/workspace-tree';
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

test('the existing components get the project their hand-written project.json declared', async () => {
  const files = readdirSync(join(WORKSPACE_ROOT, 'apps')).map((a) => `apps/${a}/component.json`).sort();
  const results = await createNodes(files, undefined, context(WORKSPACE_ROOT));
  assert.deepEqual(results.map(([file]) => file), files);
  for (const [file, result] of results) {
    const root = file.replace('/component.json', '');
    const name = root.slice('apps/'.length);
    assert.deepEqual(result.projects, {
      [root]: {
        name,
        projectType: 'application',
        tags: ['type:component'],
        targets: {
          test: { executor: 'nx:run-commands', options: { command: `node tools/scripts/run-tests.mjs apps/${name}` } },
          build: { executor: '@veza/executors:build' },
          package: { executor: '@veza/executors:package' },
          publish: { executor: '@veza/executors:publish', options: { env: 'local' } },
        },
      },
    });
  }
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
  assert.equal(goTest.options.command, 'go test ./...');
  assert.equal(goTest.options.cwd, 'apps/demo-go');
  assert.deepEqual({ ...goTest.options.env, GOCACHE: undefined, GOPATH: undefined }, { CGO_ENABLED: '0', GOPROXY: 'off', GOFLAGS: '-buildvcs=false -trimpath', GOTOOLCHAIN: 'local', GOCACHE: undefined, GOPATH: undefined });
  assert.deepEqual(rs.projects!['apps/demo-rs'].targets!.test.options, { command: 'cargo test --offline --locked', cwd: 'apps/demo-rs', env: { CARGO_TARGET_DIR: '../../dist/.cache/cargo/demo-rs' } });
  assert.deepEqual(rs.projects!['apps/demo-rs'].tags, ['type:component']);
});

test('an invalid component.json fails the graph with the file and the reason', async (t) => {
  const root = await workspace(t, [{ name: 'other-name', build: { preset: 'node', entries: { server: 'a.ts' } }, run }]);
  await fs.rename(join(root, 'apps', 'other-name'), join(root, 'apps', 'demo'));
  await assert.rejects(Promise.resolve(createNodes(['apps/demo/component.json'], undefined, context(root))), (e: Error & { errors?: [string, Error][] }) => {
    assert.match(e.errors?.[0]?.[1]?.message ?? e.message, /apps\/demo\/component\.json: name "other-name" differs from its folder "demo"/);
    return true;
  });
});
