import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { VezaError } from '../../log/errors';
import { fixtureWorkspace, listTree, RELEASE, run } from './workspace';

const component = { name: 'veza-api', build: { preset: 'go', binaries: ['veza-api', 'migrate_tool'] }, run };

// One Go cache for this file's builds (the standard library compiles once), removed at the end.
let goDir: string;
let goEnv: NodeJS.ProcessEnv;
before(async () => {
  goDir = await fs.mkdtemp(join(tmpdir(), 'veza-go-test-'));
  goEnv = { GOCACHE: join(goDir, 'cache'), GOMODCACHE: join(goDir, 'mod') };
});
after(() => fs.rm(goDir, { recursive: true, force: true }));

test('go preset: tests, then one static binary per entry that runs', async (t) => {
  const ws = await fixtureWorkspace(t, 'go', component, goEnv);
  const plan = await ws.build();
  const root = plan.paths.rootDir;
  assert.deepEqual(await listTree(root), ['migrate_tool', 'veza-api']);
  for (const bin of ['veza-api', 'migrate_tool']) {
    const st = await fs.stat(join(root, bin));
    assert.ok(st.mode & 0o111, `${bin} is executable`);
    assert.equal(execFileSync(join(root, bin), { encoding: 'utf8' }).trim(), `${bin}: fixture ok`);
  }
  assert.ok(ws.log.lines.some((l) => /go vet \.\/\.\.\./.test(l)), 'go vet ran');
  assert.ok(ws.log.lines.some((l) => /go test \.\/\.\.\./.test(l)), 'go test ran');
  const record = JSON.parse(await fs.readFile(plan.paths.recordFile, 'utf8'));
  assert.deepEqual(record, { component: 'veza-api', package: 'veza-api', version: RELEASE, preset: 'go' });
});

test('go preset: the same sources give the same binary bytes in another folder', async (t) => {
  const a = await fixtureWorkspace(t, 'go', component, goEnv);
  const b = await fixtureWorkspace(t, 'go', component, goEnv);
  const [pa, pb] = [await a.build(), await b.build()];
  assert.deepEqual(await fs.readFile(join(pa.paths.rootDir, 'veza-api')), await fs.readFile(join(pb.paths.rootDir, 'veza-api')));
});

test('go preset: a failing go test fails the build and leaves no artifact root', async (t) => {
  const ws = await fixtureWorkspace(t, 'go', component, goEnv);
  await fs.writeFile(join(ws.projectRoot, 'internal', 'greet', 'broken_test.go'),
    'package greet\n\nimport "testing"\n\nfunc TestBroken(t *testing.T) { t.Fatal("deliberately broken") }\n');
  await assert.rejects(ws.build(), (e: unknown) => {
    assert.ok(e instanceof VezaError);
    assert.equal(e.code, 'COMMAND_FAILED');
    assert.match(e.toLine(), /^veza-api: go test failed \(exit 1\): .*deliberately broken.* — fix the failing Go test \(cd apps\/veza-api && go test \.\/\.\.\.\), then re-run; nothing was packaged$/);
    assert.doesNotMatch(e.toLine(), /\n/);
    return true;
  });
  const out = join(ws.root, 'dist', 'build', 'veza-api');
  await assert.rejects(fs.stat(join(out, 'root')), { code: 'ENOENT' });
  await assert.rejects(fs.stat(join(out, 'build.json')), { code: 'ENOENT' });
});
