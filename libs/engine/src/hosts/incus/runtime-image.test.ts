import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packDirectory } from '../../artifact/pack';
import { environmentSchema } from '../../config/environment';
import { isVezaError } from '../../log/errors';
import { createIncusDriver } from './driver';
import { aptUnknownPackages, buildCommands, buildFailure, launchRef, parseFingerprint, recipeHash, runtimeAlias, runtimeRecipe } from './runtime-image';
import { instancesJson, scriptedRunner, sub, type Answer } from './testing/scripted-runner';

const P = { project: 'veza-itest' };
const BASE = 'c9c49d915cbf0bcff0331bcb8c6acd1eaf7dde5813529b51586b5ac893e2aa22';
const OTHER_BASE = 'd'.repeat(64);

test('the recipe hash: same base and needs in any order and with repeats, same image; another base or another need, another image', () => {
  const h = recipeHash(runtimeRecipe(BASE, ['nodejs', 'jq'], ['veza-web']));
  assert.match(h, /^[0-9a-f]{16}$/);
  assert.equal(recipeHash(runtimeRecipe(BASE, ['jq', 'nodejs', 'jq'], ['x'])), h);
  assert.notEqual(recipeHash(runtimeRecipe(OTHER_BASE, ['nodejs', 'jq'], ['veza-web'])), h);
  assert.notEqual(recipeHash(runtimeRecipe(BASE, ['nodejs'], ['veza-web'])), h);
  assert.equal(runtimeAlias(h), `veza-runtime-${h}`);
  assert.deepEqual(runtimeRecipe(BASE, ['nodejs', 'jq', 'jq'], ['veza-web']).needs, ['jq', 'nodejs']);
});

test('a need that cannot be a Debian package name is refused before any command, naming it and the component', () => {
  for (const bad of ['NodeJS', '-f', 'node js', 'a', 'x;rm']) {
    assert.throws(() => runtimeRecipe(BASE, [bad], ['veza-web']),
      (e: unknown) => isVezaError(e) && e.code === 'UNKNOWN_PACKAGE' && e.message.includes(JSON.stringify(bad)) && e.message.includes('veza-web') && /apps\/veza-web\/component\.json/.test(e.hint));
  }
});

test('the fingerprint comes from incus image info; a remote base launches by fingerprint on its remote', () => {
  assert.equal(parseFingerprint(`Fingerprint: ${BASE}\nSize: 233.10MiB\n`), BASE);
  assert.equal(parseFingerprint('Error: Image not found'), undefined);
  assert.equal(launchRef('veza-test-base', BASE), BASE);
  assert.equal(launchRef('images:debian/13', BASE), `images:${BASE}`);
});

test('the build commands: builder launched from the base, apt with the needs as arguments, stop, publish under the alias, delete', () => {
  const recipe = runtimeRecipe(BASE, ['nodejs', 'jq'], ['veza-web']);
  const hash = recipeHash(recipe);
  const b = buildCommands(P, { recipe, from: BASE, network: 'net-veza', pool: 'fast' });
  assert.equal(b.alias, `veza-runtime-${hash}`);
  assert.equal(b.builder, `veza-build-${hash}`);
  assert.deepEqual(b.launch.argv, ['incus', 'launch', BASE, b.builder, '--quiet', '--profile', 'veza-app', '--network', 'net-veza', '--storage', 'fast',
    '--config', `user.veza.runtime-builder=${b.alias}`, '--project', 'veza-itest']);
  const install = b.install.argv;
  assert.deepEqual(install.slice(0, 6), ['incus', 'exec', b.builder, '--disable-stdin', '--project', 'veza-itest']);
  assert.deepEqual(install.slice(install.indexOf('--'), install.indexOf('--') + 3), ['--', 'sh', '-c']);
  assert.deepEqual(install.slice(-3), ['veza-build', 'jq', 'nodejs'], 'the packages are positional arguments, never spliced into the script');
  assert.match(install[install.indexOf('-c') + 1]!, /apt-get install -y -q --no-install-recommends "\$@"/);
  assert.deepEqual(b.stop.argv, ['incus', 'stop', b.builder, '--project', 'veza-itest']);
  assert.deepEqual(b.publish.argv, ['incus', 'publish', b.builder, '--alias', b.alias, '--compression', 'none', '--quiet',
    'description=Veza runtime: jq nodejs', `veza.base=${BASE}`, 'veza.needs=jq nodejs', '--project', 'veza-itest']);
  assert.deepEqual(b.remove.argv, ['incus', 'delete', b.builder, '--force', '--project', 'veza-itest']);
});

const UNKNOWN = 'Reading package lists...\nBuilding dependency tree...\nE: Unable to locate package nodejss\nE: Package \'mail-transport-agent\' has no installation candidate';

test('apt errors: the packages it does not know are named; a failed update or another failure says so, not "unknown package"', () => {
  assert.deepEqual(aptUnknownPackages(UNKNOWN).map((u) => u.name), ['nodejss', 'mail-transport-agent']);
  assert.deepEqual(aptUnknownPackages('Setting up jq (1.6-2.1) ...'), []);
  const recipe = runtimeRecipe(BASE, ['nodejss', 'mail-transport-agent'], ['veza-web']);
  const at = { recipe, components: ['veza-web', 'veza-ui'], image: 'images:debian/13', network: 'net-veza', builder: 'veza-build-x' };
  const unknown = buildFailure({ exitCode: 11, stdout: '', stderr: UNKNOWN }, at);
  assert.equal(unknown.code, 'UNKNOWN_PACKAGE');
  assert.match(unknown.message, /^veza-web, veza-ui needs nodejss, mail-transport-agent \(run\.needs\), which apt does not know on the base image images:debian\/13: Unable to locate package nodejss; Package 'mail-transport-agent' has no installation candidate$/);
  assert.match(unknown.hint, /apps\/veza-web\/component\.json, apps\/veza-ui\/component\.json.*no slot was changed/);
  const offline = buildFailure({ exitCode: 10, stdout: '', stderr: 'W: Failed to fetch http://mirror/InRelease  Temporary failure resolving \'mirror\'\nE: Some index files failed to download.' }, at);
  assert.equal(offline.code, 'RUNTIME_IMAGE_FAILED');
  assert.match(offline.message, /apt-get update failed in veza-build-x on network net-veza/);
  assert.match(offline.hint, /incus network set net-veza ipv4\.nat=true/);
  const other = buildFailure({ exitCode: 11, stdout: '', stderr: 'dpkg: error processing package foo (--configure)' }, at);
  assert.equal(other.code, 'RUNTIME_IMAGE_FAILED');
  assert.match(other.message, /exit 11 in veza-build-x: dpkg: error processing package foo/);
});

const ENV = environmentSchema.parse({
  name: 'staging', driver: 'incus', prefix: 'veza-staging-', network: 'net-veza', publicHosts: ['staging.veza.fr'], publicUrl: 'https://staging.veza.fr',
  edge: 'veza-haproxy', registry: { url: 'https://git.example/api/packages', owner: 'talas' }, incus: { project: 'veza-staging', image: 'veza-base', dnsSuffix: 'incus', storagePool: 'fast' },
});

/** A ready host whose images are `images` (alias → fingerprint); builders boot at once. */
function host(images: Map<string, string>, install: () => Answer = () => ({})) {
  const builders = new Set<string>();
  return scriptedRunner((argv) => {
    const s = sub(argv);
    if (s === 'query /1.0') return {};
    if (s === 'project list') return { stdout: JSON.stringify([{ name: 'veza-staging' }]) };
    if (s === 'network list') return { stdout: JSON.stringify([{ name: 'net-veza' }]) };
    if (s === 'storage list') return { stdout: JSON.stringify([{ name: 'fast' }]) };
    if (s === 'profile list') return { stdout: JSON.stringify(['veza-app', 'veza-data'].map((name) => ({ name, devices: { root: { type: 'disk', path: '/', pool: 'fast' } } }))) };
    if (s.startsWith('image info')) {
      const fp = images.get(argv[3]!);
      return fp ? { stdout: `Fingerprint: ${fp}\nSize: 1MiB` } : { exitCode: 1, stderr: 'Error: Image not found' };
    }
    if (s.startsWith('launch')) builders.add(argv[3]!);
    if (s === 'list') return { stdout: instancesJson([...builders].map((name) => ({ name, ipv4: '10.0.0.9' }))) };
    if (s.startsWith('exec') && argv.includes('is-system-running')) return { stdout: 'running' };
    if (s.startsWith('exec')) return install();
    if (s.startsWith('publish')) images.set(argv[argv.indexOf('--alias') + 1]!, 'e'.repeat(64));
    if (s.startsWith('delete')) builders.delete(argv[2]!);
    return {};
  });
}

test('prepare builds one image per distinct set of needs, once, and a second deploy reuses it', async () => {
  const images = new Map([['veza-base', BASE]]);
  const runner = host(images);
  const steps: string[] = [];
  const slots = [{ component: 'veza-api', needs: [] }, { component: 'veza-web', needs: ['nodejs'] }, { component: 'veza-ui', needs: ['nodejs', 'nodejs'] }];
  const summary = await createIncusDriver({ env: ENV, runner }).prepare(slots, (l) => steps.push(l));
  const alias = runtimeAlias(recipeHash(runtimeRecipe(BASE, ['nodejs'], [])));
  assert.equal(steps[0], 'veza-api: the base image veza-base (no run.needs)');
  assert.match(steps[1]!, new RegExp(`^veza-web, veza-ui: ${alias} \\(nodejs\\) built in \\d+\\.\\d s$`));
  assert.match(summary, /^2 image\(s\)/);
  const lines = runner.lines();
  const order = ['incus launch', 'incus exec veza-build', 'incus stop', 'incus publish', 'incus delete'].map((p) => lines.findIndex((l) => l.startsWith(p) && !l.includes('is-system-running')));
  assert.ok(order.every((i, k) => i >= 0 && (k === 0 || i > order[k - 1]!)), lines.join('\n'));
  assert.equal(lines.filter((l) => l.startsWith('incus launch')).length, 1, 'one build for two components that need the same');
  assert.ok(images.has(alias));

  const again = host(images);
  const steps2: string[] = [];
  await createIncusDriver({ env: ENV, runner: again }).prepare(slots, (l) => steps2.push(l));
  assert.equal(steps2[1], `veza-web, veza-ui: ${alias} (nodejs) reused`);
  assert.ok(!again.lines().some((l) => /^incus (launch|publish|exec)/.test(l)), again.lines().join('\n'));
});

test('an unknown need fails the build naming the package and the component; the builder is deleted and nothing is published', async () => {
  const images = new Map([['veza-base', BASE]]);
  const runner = host(images, () => ({ exitCode: 11, stderr: 'E: Unable to locate package nodejss' }));
  await assert.rejects(createIncusDriver({ env: ENV, runner }).prepare([{ component: 'veza-web', needs: ['nodejss'] }], () => undefined),
    (e: unknown) => isVezaError(e) && e.code === 'UNKNOWN_PACKAGE' && /^veza-web needs nodejss \(run\.needs\)/.test(e.message));
  const lines = runner.lines();
  assert.ok(!lines.some((l) => l.startsWith('incus publish')));
  assert.ok(lines.at(-1)!.startsWith('incus delete veza-build-'), lines.join('\n'));
  assert.deepEqual([...images.keys()], ['veza-base']);
});

test('a missing base image is one line naming it and how to get it, before any builder', async () => {
  const runner = host(new Map());
  await assert.rejects(createIncusDriver({ env: { ...ENV, incus: { ...ENV.incus!, image: 'images:debian/13' } }, runner }).prepare([{ component: 'veza-web', needs: ['nodejs'] }], () => undefined),
    (e: unknown) => isVezaError(e) && e.code === 'NO_IMAGE' && /^the base image images:debian\/13 \(incus\.image\) is not available on this Incus host: Error: Image not found$/.test(e.message)
      && /incus image info images:debian\/13/.test(e.hint) && !e.message.includes('\n'));
  assert.ok(!runner.lines().some((l) => l.startsWith('incus launch')));
});

test('create launches a slot with needs from its runtime image, one without from the base image', async (t) => {
  const dir = await fs.mkdtemp(join(tmpdir(), 'veza-runtime-image-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  await fs.mkdir(join(dir, 'src'));
  await fs.writeFile(join(dir, 'src', 'server.js'), 'console.log(1)\n');
  const { sha256 } = await packDirectory(join(dir, 'src'), join(dir, 'a.tar.zst'));
  const alias = runtimeAlias(recipeHash(runtimeRecipe(BASE, ['nodejs'], [])));
  const runner = host(new Map([['veza-base', BASE], [alias, 'f'.repeat(64)]]));
  const driver = createIncusDriver({ env: ENV, runner });
  const spec = { env: 'staging', role: 'blue' as const, release: 'a'.repeat(40), artifactPath: join(dir, 'a.tar.zst'), artifactSha256: sha256, command: ['node', 'server.js'], vars: {} };
  await driver.create({ ...spec, name: 'veza-staging-web-blue', component: 'veza-web', needs: ['nodejs'], bind: { host: '0.0.0.0', port: 8081 } });
  await driver.create({ ...spec, name: 'veza-staging-api-blue', component: 'veza-api', needs: [], bind: { host: '0.0.0.0', port: 8080 } });
  const launches = runner.lines().filter((l) => l.startsWith('incus launch')).map((l) => l.split(' ').slice(2, 4).join(' '));
  assert.deepEqual(launches, [`${alias} veza-staging-web-blue`, 'veza-base veza-staging-api-blue']);
});
