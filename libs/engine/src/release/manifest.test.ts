import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { componentSchema, runtimeDeclaration } from '../config/component';
import {
  buildReleaseManifest, parseReleaseManifest, releaseManifestCoords, releaseManifestPath, releaseManifestRef,
  serializeReleaseManifest, type PackagedComponent,
} from './manifest';

const SHA = '0123456789abcdef0123456789abcdef01234567';
const OLD = 'fedcba9876543210fedcba9876543210fedcba98';
const CREATED = new Date('2026-04-29T12:36:40.000Z');

function packaged(component: string, version = SHA, size = 1234): PackagedComponent {
  return { component, package: component, version, file: `${component}-${version}.tar.zst`, sha256: createHash('sha256').update(component).digest('hex'), size };
}

test('a manifest lists every component with coordinates, size and sha256; versions may predate the release', () => {
  const m = buildReleaseManifest(SHA, [packaged('veza-web'), packaged('veza-api', OLD, 99)], { owner: 'talas', createdAt: CREATED });
  assert.deepEqual(m, {
    schema: 1,
    sha: SHA,
    createdAt: '2026-04-29T12:36:40.000Z',
    components: {
      'veza-web': { owner: 'talas', package: 'veza-web', version: SHA, file: `veza-web-${SHA}.tar.zst`, sha256: packaged('veza-web').sha256, size: 1234 },
      'veza-api': { owner: 'talas', package: 'veza-api', version: OLD, file: `veza-api-${OLD}.tar.zst`, sha256: packaged('veza-api').sha256, size: 99 },
    },
  });
  assert.equal(buildReleaseManifest(SHA, [packaged('veza-api')], { owner: 'talas', createdAt: CREATED, env: 'staging' }).env, 'staging');
});

test('serialisation is canonical: sorted keys, same bytes whatever the input order', () => {
  const a = serializeReleaseManifest(buildReleaseManifest(SHA, [packaged('veza-web'), packaged('veza-api'), packaged('veza-stream')], { owner: 'talas', createdAt: CREATED }));
  const b = serializeReleaseManifest(buildReleaseManifest(SHA, [packaged('veza-stream'), packaged('veza-api'), packaged('veza-web')], { owner: 'talas', createdAt: CREATED }));
  assert.equal(a, b);
  assert.ok(a.endsWith('}\n'));
  const keys = Object.keys(JSON.parse(a));
  assert.deepEqual(keys, ['components', 'createdAt', 'schema', 'sha']);
  assert.deepEqual(Object.keys(JSON.parse(a).components), ['veza-api', 'veza-stream', 'veza-web']);
  assert.deepEqual(Object.keys(JSON.parse(a).components['veza-api']), ['file', 'owner', 'package', 'sha256', 'size', 'version']);
  assert.deepEqual(parseReleaseManifest(a, 'release.json'), JSON.parse(a));
});

test('it is published at {owner}/generic/veza-release/<sha>/release.json and referenced with its sha256', () => {
  assert.deepEqual(releaseManifestCoords('talas', SHA), { owner: 'talas', package: 'veza-release', version: SHA, file: 'release.json' });
  assert.equal(releaseManifestPath('talas', SHA), `talas/generic/veza-release/${SHA}/release.json`);
  const m = buildReleaseManifest(SHA, [packaged('veza-api')], { owner: 'talas', createdAt: CREATED });
  const ref = releaseManifestRef('talas', m);
  assert.equal(ref.sha256, createHash('sha256').update(serializeReleaseManifest(m)).digest('hex'));
  assert.equal(ref.version, SHA);
  assert.throws(() => releaseManifestPath('talas', 'HEAD'), /invalid version/);
  assert.throws(() => releaseManifestPath('../x', SHA), /invalid registry owner/);
});

test('building refuses bad input before anything is written', () => {
  const build = (sha: string, cs: PackagedComponent[], owner = 'talas') => () => buildReleaseManifest(sha, cs, { owner, createdAt: CREATED });
  assert.throws(build('main', [packaged('veza-api')]), /invalid version "main"/);
  assert.throws(build(SHA, []), /has no components/);
  assert.throws(build(SHA, [packaged('veza-api'), packaged('veza-api')]), /veza-api appears twice/);
  assert.throws(build(SHA, [{ ...packaged('veza-api'), sha256: 'abc' }]), /invalid sha256 for veza-api/);
  assert.throws(build(SHA, [{ ...packaged('veza-api'), size: -1 }]), /invalid size -1/);
  assert.throws(build(SHA, [{ ...packaged('veza-api'), file: '../etc/passwd' }]), /invalid artifact file name/);
  assert.throws(build(SHA, [{ ...packaged('veza-api'), component: 'Veza API' }]), /invalid component name/);
  assert.throws(build(SHA, [packaged('veza-api')], 'bad owner'), /invalid registry owner/);
});

test('parsing names the source and the key of every problem', () => {
  const good = JSON.parse(serializeReleaseManifest(buildReleaseManifest(SHA, [packaged('veza-api')], { owner: 'talas', createdAt: CREATED })));
  const parse = (v: unknown) => () => parseReleaseManifest(typeof v === 'string' ? v : JSON.stringify(v), `talas/veza-release@${SHA}/release.json`);
  assert.throws(parse('{"schema":'), /talas\/veza-release@0123.*\/release\.json: not valid JSON/);
  assert.throws(parse({ ...good, schema: 2 }), /: schema: /);
  assert.throws(parse({ ...good, components: {} }), /components: a release has at least one component/);
  assert.throws(parse({ ...good, components: { 'veza-api': { ...good.components['veza-api'], sha256: 'nope' } } }), /components\.veza-api\.sha256: must be 64 lower-case hex/);
  assert.throws(parse({ ...good, components: { 'veza-api': { ...good.components['veza-api'], url: 'http://x' } } }), /components\.veza-api: Unrecognized key/);
  assert.throws(parse({ ...good, createdAt: 'yesterday' }), /createdAt: /);
  assert.throws(() => parseReleaseManifest(JSON.stringify(good), 'release.json', OLD), new RegExp(`release.json describes release ${SHA}, not ${OLD}`));
  try {
    parse({ ...good, sha: 'x' })();
    assert.fail('expected a refusal');
  } catch (e) {
    assert.match((e as { hint: string }).hint, /publish the release again/);
  }
});

test('a manifest carries each component\'s declarations as built, and reads back the older ones without them', () => {
  const api = runtimeDeclaration(componentSchema.parse({
    name: 'veza-api', build: { preset: 'go', binaries: ['veza-api'] },
    run: { command: ['./veza-api'], port: 8080, health: '/api/v1/health', needs: ['ca-certificates'] },
    edge: { backend: 'backend_api', prefixes: ['/api/v1'], sticky: true },
  }));
  const m = buildReleaseManifest(SHA, [{ ...packaged('veza-api'), declaration: api }, packaged('veza-web')], { owner: 'talas', createdAt: CREATED });
  const read = parseReleaseManifest(serializeReleaseManifest(m), 'release.json');
  assert.deepEqual(read.components['veza-api']!.declaration, api, 'run, checks, routes and OS needs travel with the release');
  assert.equal('build' in read.components['veza-api']!.declaration!, false, 'how it was built is not part of how it runs');
  assert.equal(read.components['veza-web']!.declaration, undefined, 'a manifest published before declarations were recorded still parses');
  assert.throws(() => buildReleaseManifest(SHA, [{ ...packaged('veza-web'), declaration: api }], { owner: 'talas', createdAt: CREATED }), /declaration given for veza-web is veza-api's/);
});
