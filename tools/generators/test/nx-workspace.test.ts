import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';

/**
 * The generator once for real, as a user runs it: in a copy of this
 * workspace, `nx g` creates a node component, then one `nx run-many` tests,
 * builds and packages it (its targets come from the component-nodes plugin)
 * and renders every edge, which must route to it.
 */
const ROOT = join(__dirname, '..', '..', '..');
const RELEASE = '0123456789abcdef0123456789abcdef0badcafe';
// Build output, state and caches of this checkout are not part of a fresh clone
// (nor are the executor and plugin bundles in tools/*/dist: a clone builds its own).
const TOP_LEVEL_SKIP = new Set(['.nx', '.veza', '.git']);
const SKIP_ANYWHERE = new Set(['node_modules', 'dist']);

async function copyWorkspace(t: { after(fn: () => unknown): void }): Promise<string> {
  const dir = await fs.mkdtemp(join(tmpdir(), 'veza-nx-ws-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  await fs.cp(ROOT, dir, {
    recursive: true,
    filter: (src) => {
      const rel = relative(ROOT, src);
      return !TOP_LEVEL_SKIP.has(rel.split(sep)[0]) && !rel.split(sep).some((part) => SKIP_ANYWHERE.has(part));
    },
  });
  await fs.symlink(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

test('nx g creates a node component; nx packages it and the rendered edge routes to it', async (t) => {
  const ws = await copyWorkspace(t);
  const nx = (...args: string[]) => promisify(execFile)(join(ws, 'node_modules', '.bin', 'nx'), args, {
    cwd: ws,
    timeout: 300_000,
    maxBuffer: 16 * 1024 * 1024,
    // The copy is no git work tree: the release sha comes from the environment, as in CI.
    env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false', VEZA_RELEASE_SHA: RELEASE },
  });

  const gen = await nx('g', '@veza/generators:component', 'demo-svc', '--kind=node', '--port=8090', '--routes=/demo');
  // CI=true makes Nx colour its output even without a TTY.
  const created = gen.stdout.replace(/\x1b\[[0-9;]*m/g, '');
  assert.match(created, /CREATE apps\/demo-svc\/component\.json/);
  assert.match(created, /CREATE apps\/demo-svc\/src\/main\.ts/);
  await assert.rejects(fs.access(join(ws, 'apps', 'demo-svc', 'project.json')));

  await nx('run-many', '-t', 'package', 'render', '--projects=demo-svc,infra-edge', '--outputStyle=static');

  const manifest = JSON.parse(await fs.readFile(join(ws, 'dist', 'artifacts', 'demo-svc', 'manifest.json'), 'utf8'));
  assert.equal(manifest.component, 'demo-svc');
  assert.equal(manifest.version, RELEASE);
  const local = await fs.readFile(join(ws, 'dist', 'edge', 'local-edge', 'haproxy.cfg'), 'utf8');
  assert.match(local, /acl route_local_demo_svc_pool path \/demo\n/);
  assert.match(local, /use_backend local_demo_svc_pool if host_local route_local_demo_svc_pool\n/);
  assert.match(local, /backend local_demo_svc_pool\n[\s\S]*?http-check send meth GET uri \/demo\/health\n[\s\S]*?server blue 127\.77\.1\.10:8090\n/);
  const shared = await fs.readFile(join(ws, 'dist', 'edge', 'veza-haproxy', 'haproxy.cfg'), 'utf8');
  for (const env of ['staging', 'prod']) assert.match(shared, new RegExp(`backend ${env}_demo_svc_pool\\n[\\s\\S]*?server blue veza-${env === 'prod' ? '' : 'staging-'}demo-svc-blue\\.lxd:8090\\b`));
});
