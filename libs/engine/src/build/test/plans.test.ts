import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { goCaches, planGo } from '../presets/go';
import { planCargo, SOURCE_DATE_EPOCH } from '../presets/cargo';
import { planBundles } from '../presets/node';
import { planVite } from '../presets/vite';
import { describeStep, type BuildStep } from '../steps';
import { cargoBinDirs, findExecutable } from '../toolchain';
import { fixtureWorkspace, RELEASE, run } from './workspace';

const argv = (s: BuildStep) => (s.kind === 'run' ? s.command.argv : []);

test('go plan: vet, test, then a trimmed static build per binary stamped with the release, through the machine\'s module proxy', () => {
  const steps = planGo({
    go: '/usr/bin/go', component: 'a', workspaceRoot: '/ws', projectRoot: '/ws/apps/a', rootDir: '/ws/dist/build/a/root',
    binaries: ['veza-api', 'migrate_tool'], version: RELEASE, goCache: '/c', goModCache: '/m',
  });
  const ldflags = `-ldflags=-s -w -buildid= -X main.release=${RELEASE}`;
  assert.deepEqual(steps.map(argv), [
    ['/usr/bin/go', 'vet', './...'],
    ['/usr/bin/go', 'test', './...'],
    ['/usr/bin/go', 'build', '-trimpath', '-buildvcs=false', ldflags, '-o', '/ws/dist/build/a/root/veza-api', './cmd/veza-api'],
    ['/usr/bin/go', 'build', '-trimpath', '-buildvcs=false', ldflags, '-o', '/ws/dist/build/a/root/migrate_tool', './cmd/migrate_tool'],
  ]);
  for (const s of steps) {
    assert.ok(s.kind === 'run');
    assert.equal(s.command.cwd, '/ws/apps/a');
    assert.deepEqual(s.command.env, { CGO_ENABLED: '0', GOFLAGS: '-buildvcs=false -trimpath -mod=readonly', GOTOOLCHAIN: 'local', GOCACHE: '/c', GOMODCACHE: '/m' },
      'GOPROXY is left to the machine');
  }
});

test('go caches: the user\'s own when named, else under the user cache dir, never in the workspace', () => {
  assert.deepEqual(goCaches({ HOME: '/home/u' }), { goCache: '/home/u/.cache/veza/go/build', goModCache: '/home/u/.cache/veza/go/mod' });
  assert.deepEqual(goCaches({ HOME: '/home/u', XDG_CACHE_HOME: '/x' }), { goCache: '/x/veza/go/build', goModCache: '/x/veza/go/mod' });
  assert.deepEqual(goCaches({ GOCACHE: '/gc', GOMODCACHE: '/gm' }), { goCache: '/gc', goModCache: '/gm' });
});

test('cargo plan: test, then a static release build for an explicit target with the checkout\'s paths remapped', () => {
  const base = { cargo: '/c/cargo', component: 's', workspaceRoot: '/ws', projectRoot: '/ws/apps/s', rootDir: '/ws/root', binaries: ['veza-stream'], targetDir: '/t', cargoHome: '/home/u/.cargo', env: {} };
  const musl = planCargo({ ...base, target: { triple: 'x86_64-unknown-linux-musl', kind: 'musl' } });
  assert.deepEqual(musl.map(argv).slice(0, 2), [
    ['/c/cargo', 'test', '--locked'],
    ['/c/cargo', 'build', '--release', '--locked', '--target', 'x86_64-unknown-linux-musl'],
  ]);
  assert.deepEqual(musl[2], { kind: 'copy', from: '/t/x86_64-unknown-linux-musl/release/veza-stream', to: '/ws/root/veza-stream', mode: 0o755 });
  const remaps = ['--remap-path-prefix=/ws/apps/s=/build/s', '--remap-path-prefix=/home/u/.cargo=/cargo'];
  assert.ok(musl[1].kind === 'run');
  assert.equal(musl[1].command.env?.CARGO_ENCODED_RUSTFLAGS, remaps.join('\x1f'), 'musl is static already');

  const gnu = planCargo({ ...base, target: { triple: 'x86_64-unknown-linux-gnu', kind: 'gnu-static' } });
  assert.ok(gnu[0].kind === 'run' && gnu[1].kind === 'run');
  assert.deepEqual(gnu[1].command.argv, ['/c/cargo', 'build', '--release', '--locked', '--target', 'x86_64-unknown-linux-gnu']);
  assert.equal(gnu[1].command.env?.CARGO_ENCODED_RUSTFLAGS, ['-C', 'target-feature=+crt-static', ...remaps].join('\x1f'));
  assert.deepEqual(gnu[2], { kind: 'copy', from: '/t/x86_64-unknown-linux-gnu/release/veza-stream', to: '/ws/root/veza-stream', mode: 0o755 });
  for (const s of [gnu[0], gnu[1]]) {
    assert.equal(s.command.env?.CARGO_TARGET_DIR, '/t');
    assert.equal(s.command.env?.SOURCE_DATE_EPOCH, SOURCE_DATE_EPOCH);
  }
  assert.equal(gnu[0].command.env?.CARGO_ENCODED_RUSTFLAGS, undefined, 'tests build for the host, as `nx test` does, sharing its compilation');
});

test('cargo off PATH is found in ~/.cargo/bin and its folder put on the commands\' PATH', async (t) => {
  const cargoHome = cargoBinDirs(process.env)[0];
  if (!(await findExecutable('cargo', {}, [cargoHome]))) return t.skip(`no cargo in ${cargoHome}`);
  const ws = await fixtureWorkspace(t, 'cargo', { name: 'veza-stream', build: { preset: 'cargo', binaries: ['probe'] }, run }, { PATH: '/usr/bin:/bin' });
  const [first] = (await ws.plan()).steps;
  assert.ok(first.kind === 'run');
  assert.equal(first.command.argv[0], join(cargoHome, 'cargo'));
  assert.equal(first.command.env?.PATH, `${cargoHome}:/usr/bin:/bin`);
});

test('node bundles: deterministic single-file CommonJS for node 20, native peers external, run from the workspace root', () => {
  const [step] = planBundles({ esbuild: '/e', workspaceRoot: '/ws', rootDir: '/ws/root', entries: [['server', '/ws/apps/a/src/main.ts']] });
  assert.ok(step.kind === 'run');
  assert.equal(step.command.cwd, '/ws', 'path comments in the bundle are workspace-relative');
  assert.deepEqual(step.command.argv, [
    '/e', '/ws/apps/a/src/main.ts', '--bundle', '--platform=node', '--target=node20', '--format=cjs',
    '--legal-comments=eof', '--charset=utf8', '--log-level=warning',
    '--external:pg-native', '--external:bufferutil', '--external:utf-8-validate', '--outfile=/ws/root/server.js',
  ]);
});

test('vite plan: builds into root/public with the version as VITE_RELEASE_SHA', () => {
  const step = planVite({ node: '/node', vite: '/vite.js', projectRoot: '/ws/apps/w', config: '/ws/apps/w/vite.config.ts', rootDir: '/ws/root', version: RELEASE });
  assert.ok(step.kind === 'run');
  assert.deepEqual(step.command.argv, ['/node', '/vite.js', 'build', '/ws/apps/w', '--config', '/ws/apps/w/vite.config.ts', '--outDir', '/ws/root/public', '--emptyOutDir', '--logLevel', 'warn']);
  assert.deepEqual(step.command.env, { VITE_RELEASE_SHA: RELEASE });
});

test('a plan reads as workspace-relative lines, ready for a dry-run', async (t) => {
  const ws = await fixtureWorkspace(t, 'node', { name: 'veza-api', build: { preset: 'node', entries: { server: 'src/main.ts' }, assets: ['migrations'] }, run });
  const plan = await ws.plan();
  const lines = plan.steps.map((s) => describeStep(s, ws.root));
  assert.match(lines[0], /esbuild apps\/veza-api\/src\/main\.ts --bundle .* --outfile=dist\/build\/veza-api\/root\/server\.js$/);
  assert.equal(lines[1], 'copy apps/veza-api/migrations → dist/build/veza-api/root/migrations');
  assert.deepEqual(plan.record, { component: 'veza-api', package: 'veza-api', version: RELEASE, preset: 'node' });
});
