import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { buildComponent } from '@veza/engine/build/build-component';
import { componentSchema, type ComponentDeclaration } from '@veza/engine/config/component';
import { createMemoryLogger } from '@veza/engine/log/logger';
import { materialize, start } from '../testing/materialize';
import { WORKSPACE_ROOT, workspaceTree } from '../testing/workspace-tree';
import { generateComponent, type Kind } from './generator';

/**
 * Each kind, for real: the generated tests pass, the engine's build preset
 * builds it (go and cargo run their own tests there), and the artifact it
 * builds starts from run.command, honours PORT/HOST/VEZA_RELEASE_SHA, answers
 * health and status, and stops on SIGTERM.
 */
const RELEASE = 'abcdef0123456789abcdef0123456789abcdef01';

async function generateAndBuild(t: { after(fn: () => unknown): void }, name: string, kind: Kind) {
  const tree = workspaceTree();
  generateComponent(tree, { name, kind });
  const root = await materialize(t, tree);
  const decl: ComponentDeclaration = componentSchema.parse(JSON.parse(tree.read(`apps/${name}/component.json`, 'utf8')!));
  const tests = (await fs.readdir(join(root, 'apps', name, 'test')).catch(() => [])).map((f) => `apps/${name}/test/${f}`);
  if (tests.length) {
    await promisify(execFile)(process.execPath, ['--require', '@swc-node/register', '--test', ...tests], {
      cwd: root,
      env: { ...process.env, SWC_NODE_PROJECT: join(WORKSPACE_ROOT, 'tsconfig.base.json') },
    });
  }
  const plan = await buildComponent({ workspaceRoot: root, projectRoot: `apps/${name}`, env: { ...process.env, VEZA_RELEASE_SHA: RELEASE }, log: createMemoryLogger() });
  return { decl, artifactRoot: plan.paths.rootDir, ranTests: tests.length };
}

async function runArtifact(t: { after(fn: () => unknown): void }, decl: ComponentDeclaration, artifactRoot: string) {
  const [cmd, ...args] = decl.run.command;
  const app = start(t, [cmd === 'node' ? process.execPath : cmd, ...args], {
    cwd: artifactRoot,
    env: { PATH: process.env.PATH, PORT: '0', HOST: '127.0.0.1', VEZA_RELEASE_SHA: RELEASE, VEZA_COLOR: 'green', VEZA_ENV: 'local' },
  });
  const [line, port] = await app.waitFor(new RegExp(`^${decl.name} start listen=127\\.0\\.0\\.1:(\\d+) .*$`, 'm'));
  assert.equal(line, `${decl.name} start listen=127.0.0.1:${port} release=${RELEASE} color=green env=local`);
  const base = `http://127.0.0.1:${port}`;
  const health = await fetch(`${base}${decl.run.health}`);
  assert.equal(health.status, 200);
  assert.deepEqual(await health.json(), { status: 'ok' });
  const status = (await (await fetch(`${base}${decl.run.status}`)).json()) as Record<string, unknown>;
  assert.deepEqual({ ...status, uptimeSeconds: 0 }, { component: decl.name, release: RELEASE, color: 'green', env: 'local', uptimeSeconds: 0 });
  assert.equal((await fetch(`${base}/no/such/path`)).status, 404);
  return { base, app };
}

test('node: its tests pass, it bundles, and server.js serves health and status', async (t) => {
  const { decl, artifactRoot, ranTests } = await generateAndBuild(t, 'demo-svc', 'node');
  assert.equal(ranTests, 2);
  assert.deepEqual(await fs.readdir(artifactRoot), ['server.js']);
  const { app } = await runArtifact(t, decl, artifactRoot);
  process.kill(app.pid, 'SIGTERM');
  const done = await app.exited;
  assert.equal(done.code, 0);
  assert.match(done.stdout, /demo-svc stop signal=SIGTERM\n$/);
});

test('vite: its tests pass, vite builds it under its route with the release baked in, server.js serves it', async (t) => {
  const { decl, artifactRoot, ranTests } = await generateAndBuild(t, 'demo-ui', 'vite');
  assert.equal(ranTests, 1);
  assert.deepEqual((await fs.readdir(artifactRoot)).sort(), ['public', 'server.js']);
  const assets = await fs.readdir(join(artifactRoot, 'public', 'assets'));
  const js = assets.find((f) => f.endsWith('.js'))!;
  assert.match(await fs.readFile(join(artifactRoot, 'public', 'assets', js), 'utf8'), new RegExp(RELEASE));
  const { base, app } = await runArtifact(t, decl, artifactRoot);
  const page = await (await fetch(`${base}/demo-ui/`)).text();
  assert.match(page, /<title>demo-ui<\/title>/);
  assert.match(page, new RegExp(`src="/demo-ui/assets/${js.replace('.', '\\.')}"`));
  assert.equal((await fetch(`${base}/demo-ui/assets/${js}`)).status, 200);
  process.kill(app.pid, 'SIGTERM');
  assert.equal((await app.exited).code, 0);
});

test('go: go test and a static build through the go preset; the binary serves health and status, refuses a bad release', async (t) => {
  const { decl, artifactRoot } = await generateAndBuild(t, 'demo-go', 'go');
  assert.deepEqual(await fs.readdir(artifactRoot), ['demo-go']);
  const { app } = await runArtifact(t, decl, artifactRoot);
  process.kill(app.pid, 'SIGTERM');
  const done = await app.exited;
  assert.equal(done.code, 0);
  assert.match(done.stdout, /demo-go stop signal=SIGTERM\n$/);

  const refused = await start(t, ['./demo-go'], { cwd: artifactRoot, env: { PORT: '0', VEZA_RELEASE_SHA: 'HEAD' } }).exited;
  assert.equal(refused.code, 2);
  assert.equal(refused.stderr, 'demo-go: VEZA_RELEASE_SHA="HEAD" is invalid — use a 40-hex git SHA or local-<12 hex>\n');
});

test('cargo: cargo test and a release build through the cargo preset, and the binary serves health and status', async (t) => {
  const { decl, artifactRoot } = await generateAndBuild(t, 'demo-rs', 'cargo');
  assert.deepEqual(await fs.readdir(artifactRoot), ['demo-rs']);
  const { base, app } = await runArtifact(t, decl, artifactRoot);
  const post = await fetch(`${base}${decl.run.health}`, { method: 'POST' });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get('allow'), 'GET, HEAD');
  process.kill(app.pid, 'SIGTERM');
  assert.equal((await app.exited).signal, 'SIGTERM');
});
