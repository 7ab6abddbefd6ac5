import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildComponent } from '@veza/engine/build/build-component';
import { VezaError } from '@veza/engine/log/errors';
import { createMemoryLogger } from '@veza/engine/log/logger';
import { WORKSPACE_ROOT } from '../support/entry-process';

/**
 * The real components' builds when something they need is missing or
 * broken: one line naming the component, the step and what to do, and no
 * artifact root left behind for `package` to pick up.
 */
const RELEASE = '0123456789abcdef0123456789abcdef01234567';
// Nothing listens on the discard port of loopback: a proxy or registry that cannot be reached.
const DEAD = 'http://127.0.0.1:9';

async function workspaceWith(t: { after(fn: () => unknown): void }, component: string) {
  const root = await fs.mkdtemp(join(tmpdir(), 'veza-build-fail-'));
  t.after(() => fs.rm(root, { recursive: true, force: true }));
  await fs.cp(join(WORKSPACE_ROOT, 'apps', component), join(root, 'apps', component), { recursive: true, filter: (src) => !src.includes('/target') });
  await fs.symlink(join(WORKSPACE_ROOT, 'node_modules'), join(root, 'node_modules'));
  return root;
}

async function failedBuild(root: string, component: string, env: NodeJS.ProcessEnv): Promise<VezaError> {
  const err = await buildComponent({ workspaceRoot: root, projectRoot: `apps/${component}`, env: { ...process.env, VEZA_RELEASE_SHA: RELEASE, ...env }, log: createMemoryLogger() }).then(
    () => assert.fail('the build should have failed'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof VezaError, String(err));
  await assert.rejects(fs.stat(join(root, 'dist', 'build', component, 'root')), { code: 'ENOENT' }, 'nothing is left to package');
  await assert.rejects(fs.stat(join(root, 'dist', 'build', component, 'build.json')), { code: 'ENOENT' });
  return err;
}

test('veza-api with an unreachable module proxy and an empty module cache fails at go vet, saying so in one line', async (t) => {
  const root = await workspaceWith(t, 'veza-api');
  const err = await failedBuild(root, 'veza-api', { GOPROXY: DEAD, GOMODCACHE: join(root, 'empty-modcache'), });
  const line = err.toLine();
  assert.doesNotMatch(line, /\n/);
  assert.match(line, /^veza-api: go vet failed \(exit 1\): .*127\.0\.0\.1:9.* — the Go module proxy could not be reached and \S+empty-modcache lacks a module go\.sum names — check the network and `go env GOPROXY`, then re-run; nothing was packaged$/);
  // Go marks its module cache read-only; make it removable.
  await fs.chmod(join(root, 'empty-modcache'), 0o755).catch(() => undefined);
});

test('veza-api with a compile error fails with the file and line, and nothing is packaged', async (t) => {
  const root = await workspaceWith(t, 'veza-api');
  await fs.appendFile(join(root, 'apps/veza-api/internal/dburl/dburl.go'), '\nfunc broken() int { return "not an int" }\n');
  const line = (await failedBuild(root, 'veza-api', {})).toLine();
  assert.match(line, /^veza-api: go vet failed \(exit 1\): .*dburl\.go:\d+:\d+: .*— fix what go vet reports \(cd apps\/veza-api && go vet \.\/\.\.\.\), then re-run; nothing was packaged$/);
});

test('veza-stream with an unreachable crate registry and an empty CARGO_HOME fails at cargo test, saying so in one line', async (t) => {
  const root = await workspaceWith(t, 'veza-stream');
  const cargoHome = join(root, 'empty-cargo-home');
  await fs.mkdir(cargoHome);
  // Source replacement is how cargo is pointed at a mirror; here, at nothing.
  await fs.writeFile(join(cargoHome, 'config.toml'), `[source.crates-io]\nreplace-with = "dead"\n\n[source.dead]\nregistry = "sparse+${DEAD}/index/"\n\n[net]\nretry = 0\n`);
  const err = await failedBuild(root, 'veza-stream', { CARGO_HOME: cargoHome, PATH: `${join(process.env.HOME ?? '', '.cargo', 'bin')}:${process.env.PATH}` });
  const line = err.toLine();
  assert.doesNotMatch(line, /\n/);
  assert.match(line, /^veza-stream: cargo test failed \(exit 101\): error: failed to get `\S+` as a dependency .* — the crate registry could not be reached and \S+empty-cargo-home lacks a crate Cargo\.lock names — check the network and cargo's registry settings, then re-run; nothing was packaged$/);
});

test('veza-stream with a failing Rust test names the test', async (t) => {
  const root = await workspaceWith(t, 'veza-stream');
  await fs.appendFile(join(root, 'apps/veza-stream/src/hls.rs'), '\n#[test]\nfn deliberately_broken() {\n    assert_eq!(1, 2, "deliberately broken");\n}\n');
  const line = (await failedBuild(root, 'veza-stream', {})).toLine();
  assert.match(line, /^veza-stream: cargo test failed \(exit 101\): .*deliberately broken.* — fix the failing Rust test or compile error \(cd apps\/veza-stream && cargo test --locked\), then re-run; nothing was packaged$/);
});

test('a missing toolchain names the component and says what to install', async (t) => {
  const root = await workspaceWith(t, 'veza-api');
  const line = (await failedBuild(root, 'veza-api', { PATH: '/nonexistent' })).toLine();
  assert.match(line, /^veza-api: cannot build: go not found on PATH — install the Go toolchain/);
});
