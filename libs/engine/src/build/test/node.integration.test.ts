import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { fixtureWorkspace, listTree, run } from './workspace';

const component = {
  name: 'veza-api',
  package: 'veza-backend',
  build: { preset: 'node', entries: { server: 'src/main.ts', migrate_tool: 'src/tool.ts' }, assets: ['migrations'] },
  run,
};

test('node preset: one bundle per entry plus the assets, and the bundle runs on its own', async (t) => {
  const ws = await fixtureWorkspace(t, 'node', component);
  const plan = await ws.build();
  const root = plan.paths.rootDir;
  assert.deepEqual(await listTree(root), ['migrate_tool.js', 'migrations/', 'migrations/0001_init.sql', 'server.js']);
  // Run from a folder with no node_modules anywhere above it: everything must be inside the bundle.
  const alone = await fs.mkdtemp(join(tmpdir(), 'veza-bundle-alone-'));
  t.after(() => fs.rm(alone, { recursive: true, force: true }));
  await fs.cp(root, alone, { recursive: true });
  assert.equal(execFileSync(process.execPath, [join(alone, 'server.js')], { cwd: alone, encoding: 'utf8' }).trim(), 'node fixture ok (function)');
  assert.equal(execFileSync(process.execPath, [join(alone, 'migrate_tool.js')], { cwd: alone, encoding: 'utf8' }).trim(), 'tool ok');
  const server = await fs.readFile(join(root, 'server.js'), 'utf8');
  assert.match(server, /require\("pg-native"\)/, 'the optional native peer stays external');
  assert.ok(!server.includes(ws.root), 'no absolute path of the checkout in the bundle');
  assert.deepEqual(JSON.parse(await fs.readFile(plan.paths.recordFile, 'utf8')),
    { component: 'veza-api', package: 'veza-backend', version: '0123456789abcdef0123456789abcdef01234567', preset: 'node' });
});

test('node preset: two builds in two checkouts give identical bytes', async (t) => {
  const a = await fixtureWorkspace(t, 'node', component);
  const b = await fixtureWorkspace(t, 'node', component);
  const first = await a.build();
  const again = await fs.readFile(join(first.paths.rootDir, 'server.js'));
  await a.build();
  assert.deepEqual(await fs.readFile(join(first.paths.rootDir, 'server.js')), again, 'rebuild in place');
  const other = await b.build();
  for (const f of ['server.js', 'migrate_tool.js']) {
    assert.deepEqual(await fs.readFile(join(other.paths.rootDir, f)), await fs.readFile(join(first.paths.rootDir, f)), f);
  }
});

test('a rebuild starts from a clean output folder', async (t) => {
  const ws = await fixtureWorkspace(t, 'node', component);
  const plan = await ws.build();
  await fs.writeFile(join(plan.paths.rootDir, 'stale.txt'), 'left over');
  await fs.writeFile(join(plan.paths.outDir, 'other.txt'), 'left over');
  await ws.build();
  assert.deepEqual(await listTree(plan.paths.outDir), ['build.json', 'root/', 'root/migrate_tool.js', 'root/migrations/', 'root/migrations/0001_init.sql', 'root/server.js']);
});
