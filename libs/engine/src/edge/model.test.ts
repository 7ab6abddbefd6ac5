import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import type { Environment } from '../config/environment';
import { onlyServerStatesDiffer } from './apply';
import { buildEdgeModel, colorSessions, drainedPools, loadEdgeInputs, type EdgeInputs } from './model';
import { renderHaproxyConfig } from './render';
import { loadWorkspace } from '../config/workspace';

const ROOT = resolve(__dirname, '../../../..');

async function shared(): Promise<EdgeInputs> {
  return loadEdgeInputs(await loadWorkspace(ROOT), 'veza-haproxy');
}

function withEnv(inputs: EdgeInputs, patch: Partial<Environment>, name = 'staging'): EdgeInputs {
  return { ...inputs, envs: inputs.envs.map((e) => (e.name === name ? { ...e, ...patch } : e)) };
}

test('the shared edge serves the environments that name it, from their own declarations', async () => {
  const inputs = await shared();
  assert.deepEqual(inputs.envs.map((e) => e.name), ['prod', 'staging']);
  const m = buildEdgeModel(inputs, { staging: 'green' });
  const staging = m.tenants.find((t) => t.name === 'staging')!;
  assert.deepEqual(staging.pools.map((p) => p.name), ['staging_backend_api', 'staging_stream_pool', 'staging_web_pool']);
  assert.equal(staging.defaultPool, 'staging_web_pool');
  const api = staging.pools[0]!;
  assert.equal(api.cookie, 'veza_srv_staging');
  // green active: its primary and blue's backup serve; the other two wait in maintenance.
  assert.deepEqual(api.servers.map((s) => [s.name, s.backup, s.disabled]), [
    ['blue', false, true], ['green', false, false], ['blue_backup', true, false], ['green_backup', true, true],
  ]);
  assert.equal(api.servers[1]!.host, 'veza-staging-api-green.lxd');
  assert.equal(m.tenants.find((t) => t.name === 'prod')!.color, 'blue', 'absent colours default to blue');
});

test('rendering is deterministic, and a colour change touches only server states', async () => {
  const inputs = await shared();
  const a = renderHaproxyConfig(buildEdgeModel(inputs, { staging: 'blue' }));
  assert.equal(renderHaproxyConfig(buildEdgeModel(inputs, { staging: 'blue' })), a);
  const b = renderHaproxyConfig(buildEdgeModel(inputs, { staging: 'green' }));
  assert.notEqual(a, b);
  assert.ok(onlyServerStatesDiffer(a, b));
  assert.ok(!onlyServerStatesDiffer(a, a.replace('timeout tunnel 1h', 'timeout tunnel 2h')));
});

test('inconsistent declarations are refused with what to fix', async () => {
  const inputs = await shared();
  const cases: [EdgeInputs, RegExp][] = [
    [withEnv(inputs, { publicHosts: ['veza.fr'], publicUrl: 'https://veza.fr' }), /host veza\.fr is claimed by both environment prod and environment staging/],
    [withEnv(inputs, { publicHosts: ['talas.fr'], publicUrl: 'https://talas.fr' }), /host talas\.fr is claimed by both environment staging and site talas_vitrine/],
    [withEnv(inputs, { publicUrl: 'https://staging.veza.fr:8443' }), /uses port 8443 but edge veza-haproxy listens on 443/],
    [withEnv(inputs, { publicUrl: 'https://elsewhere.veza.fr' }), /publicUrl host elsewhere\.veza\.fr is not in publicHosts/],
    [withEnv(inputs, { driver: 'local', local: { subnet: '127.9.9' } }), /a local environment cannot use edge veza-haproxy, which runs on incus/],
    [withEnv(inputs, { publicHosts: ['staging.veza.fr', 'Bad_Host'] }), /invalid host name "Bad_Host"/],
    [{ ...inputs, components: inputs.components.map((c) => (c.name === 'veza-web' && c.edge ? { ...c, edge: { ...c.edge, prefixes: ['/api'] } } : c)) }, /edge prefix \/api\/v1 of veza-api overlaps \/api of veza-web/],
    [{ ...inputs, components: inputs.components.map((c) => (c.name === 'veza-web' && c.edge ? { ...c, edge: { ...c.edge, backend: 'backend_api' } } : c)) }, /both declare edge\.backend backend_api/],
  ];
  for (const [bad, re] of cases) assert.throws(() => buildEdgeModel(bad), re);
  assert.throws(() => buildEdgeModel(inputs, { local: 'green' }), /environment "local" is not served by edge veza-haproxy/);
  const lab = await loadEdgeInputs(await loadWorkspace(ROOT), 'veza-lab');
  assert.throws(() => buildEdgeModel({ ...lab, envs: inputs.envs }), /multi-instance \(lab\) edge and serves no environment/);
});

test('the lab edge: N instances per component, no colours, no backups', async () => {
  const m = buildEdgeModel(await loadEdgeInputs(await loadWorkspace(ROOT), 'veza-lab'));
  const [lab] = m.tenants;
  assert.equal(lab!.color, undefined);
  const api = lab!.pools.find((p) => p.component === 'veza-api')!;
  assert.deepEqual(api.servers.map((s) => [s.name, s.host, s.backup, s.disabled, s.cookie]), [
    ['api-1', 'veza-lab-api-1.lxd', false, false, 'api-1'],
    ['api-2', 'veza-lab-api-2.lxd', false, false, 'api-2'],
  ]);
});

test('the lab: WebSocket upgrades go to a twin backend whose tracking servers close their tunnels at the DOWN; plain requests are resent, never cut', async () => {
  const text = renderHaproxyConfig(buildEdgeModel(await loadEdgeInputs(await loadWorkspace(ROOT), 'veza-lab')));
  const lines = text.split('\n');
  const ws = lines.indexOf('  use_backend lab_backend_api_ws if host_lab route_lab_backend_api websocket');
  assert.ok(ws > 0 && ws < lines.indexOf('  use_backend lab_backend_api if host_lab route_lab_backend_api'), 'the upgrade rule comes first');
  const backend = (name: string) => text.split('\n\n').find((b) => b.startsWith(`backend ${name}\n`))!;
  assert.match(backend('lab_backend_api_ws'), /default-server on-marked-down shutdown-sessions slowstart 30s/);
  assert.match(backend('lab_backend_api_ws'), /server api-1 veza-lab-api-1\.lxd:8080 cookie api-1 track lab_backend_api\/api-1\n/);
  assert.match(backend('lab_backend_api_ws'), /cookie veza_srv_lab insert/, 'the same sticky cookie as the checked pool');
  for (const pool of ['lab_backend_api', 'lab_stream_pool', 'lab_web_pool']) {
    assert.doesNotMatch(backend(pool), /shutdown-sessions/, pool);
    assert.match(backend(pool), /timeout connect 1s\n  timeout server 5s\n  http-reuse never\n  retry-on conn-failure empty-response response-timeout/, pool);
  }
  assert.equal(lines.filter((l) => l.startsWith('backend ') && l.endsWith('_ws')).length, 1, 'only the websocket pool has a twin');
});

test('the local edge binds 127.0.0.1 and each local environment\'s own edge address', async () => {
  const m = buildEdgeModel(await loadEdgeInputs(await loadWorkspace(ROOT), 'local-edge'));
  assert.deepEqual(m.http, { port: 18080, addresses: ['127.0.0.1', '127.77.1.1'] });
  assert.equal(m.https, undefined);
});

test('an edge run as root in its container drops its workers to haproxy in a chroot; the local edge, run unprivileged, does not', async () => {
  const global = (text: string) => text.split('\n\n').find((b) => b.startsWith('global'))!.split('\n');
  for (const edge of ['veza-haproxy', 'veza-itest-haproxy', 'veza-lab']) {
    const lines = global(renderHaproxyConfig(buildEdgeModel(await loadEdgeInputs(await loadWorkspace(ROOT), edge))));
    assert.deepEqual(lines.filter((l) => /^ {2}(chroot|user|group) /.test(l)), ['  chroot /var/lib/haproxy', '  user haproxy', '  group haproxy'], edge);
  }
  const local = global(renderHaproxyConfig(buildEdgeModel(await loadEdgeInputs(await loadWorkspace(ROOT), 'local-edge'))));
  assert.deepEqual(local.filter((l) => /^ {2}(chroot|user|group|uid|gid) /.test(l)), []);
});

test('each colour is served as the release it holds declares: checks and routes follow the active colour, ports each colour', async () => {
  const inputs = await shared();
  const old = inputs.components;
  // The release on green moved veza-api's health path and port, and added a route.
  const next = old.map((c) => (c.name === 'veza-api' ? { ...c, run: { ...c.run, health: '/api/v1/ready', port: 8090 }, edge: { ...c.edge!, prefixes: [...c.edge!.prefixes, '/api/v2'] } } : c));
  const held = { staging: { blue: old, green: next } };
  const before = renderHaproxyConfig(buildEdgeModel(inputs, { staging: 'blue' }, { staging: { blue: old } }));

  const failed = renderHaproxyConfig(buildEdgeModel(inputs, { staging: 'blue' }, held));
  assert.equal(failed, before.replace(/(server green(?:_backup)? veza-staging-api-green\.lxd):8080/g, '$1:8090'),
    'with blue active, only green\'s server addresses follow the release green holds');
  assert.match(failed, /server green veza-staging-api-green\.lxd:8090/);
  assert.doesNotMatch(failed, /\/api\/v1\/ready|\/api\/v2/, 'the failed release\'s check and route stay off the live edge');

  const switched = buildEdgeModel(inputs, { staging: 'green' }, held);
  const api = switched.tenants.find((t) => t.name === 'staging')!.pools.find((p) => p.component === 'veza-api')!;
  assert.equal(api.health, '/api/v1/ready');
  assert.deepEqual(api.servers.map((s) => `${s.name}:${s.port}`), ['blue:8080', 'green:8090', 'blue_backup:8080', 'green_backup:8090']);
  const text = renderHaproxyConfig(switched);
  assert.match(text, /acl route_staging_backend_api path \/api\/v1 \/api\/v2/);
  assert.doesNotMatch(text.split('\n').filter((l) => /route_prod/.test(l)).join('\n'), /\/api\/v2/, 'prod runs its own release');

  assert.equal(renderHaproxyConfig(buildEdgeModel(inputs, { staging: 'blue' }, held)), failed, 'switching back restores the previous release\'s declarations');
});

test('a held release whose routes overlap is refused, naming the components', async () => {
  const inputs = await shared();
  const broken = inputs.components.map((c) => (c.name === 'veza-stream' ? { ...c, edge: { ...c.edge!, prefixes: ['/api/v1/stream'] } } : c));
  assert.throws(() => buildEdgeModel(inputs, { staging: 'green' }, { staging: { green: broken } }), /overlaps \/api\/v1 of veza-api/);
});

test('previewHosts: a preview twin of every pool serves the inactive colour alone, flipped with the switch by server states only', async () => {
  const inputs = withEnv(await shared(), { previewHosts: ['preview.staging.veza.fr'] });
  const m = buildEdgeModel(inputs, { staging: 'green' });
  const staging = m.tenants.find((t) => t.name === 'staging')!;
  const preview = staging.pools.filter((p) => p.preview);
  assert.deepEqual(preview.map((p) => p.name), ['staging_backend_api_preview', 'staging_stream_pool_preview', 'staging_web_pool_preview']);
  // green live: only blue serves there, with no backup to fall back to the live colour.
  assert.deepEqual(preview[0]!.servers.map((s) => [s.name, s.backup, s.disabled]), [['blue', false, false], ['green', false, true]]);
  const text = renderHaproxyConfig(m);
  assert.match(text, /acl preview_staging req\.hdr\(host\),host_only -m str preview\.staging\.veza\.fr/);
  assert.match(text, /use_backend staging_backend_api_preview if preview_staging route_staging_backend_api\n/);
  assert.match(text, /use_backend staging_web_pool_preview if preview_staging\n/);
  assert.equal(onlyServerStatesDiffer(text, renderHaproxyConfig(buildEdgeModel(inputs, { staging: 'blue' }))), true);
  assert.equal(m.tenants.find((t) => t.name === 'prod')!.pools.some((p) => p.preview), false, 'an environment without previewHosts has none');
});

test('a preview host another environment already serves is refused', async () => {
  const prodHost = (await shared()).envs.find((e) => e.name === 'prod')!.publicHosts[0]!;
  const inputs = withEnv(await shared(), { previewHosts: [prodHost] });
  assert.throws(() => buildEdgeModel(inputs), new RegExp(`host ${prodHost.replace(/\./g, '\\.')} is claimed by both environment prod and environment staging`));
});

test('a deploy drains only the pools whose sessions outlive a request: the sticky WebSocket api and its preview, not the stream or web pools', async () => {
  const m = buildEdgeModel(withEnv(await shared(), { previewHosts: ['preview.staging.veza.fr'] }));
  assert.deepEqual(drainedPools(m, 'staging'), ['staging_backend_api', 'staging_backend_api_preview']);
  assert.deepEqual(drainedPools(m, 'prod'), ['prod_backend_api']);
  assert.deepEqual(drainedPools(m, 'qa'), []);
});

test('a colour\'s sessions: its primary and backup twin in the pools given, nobody else\'s', () => {
  const scur = new Map([
    ['prod_backend_api/blue', 3], ['prod_backend_api/blue_backup', 1], ['prod_backend_api/green', 5], ['prod_backend_api/BACKEND', 9],
    ['prod_backend_api_preview/blue', 2], ['prod_web_pool/blue', 8], ['prod-eu_backend_api/blue', 7], ['staging_backend_api/blue', 4],
  ]);
  const pools = ['prod_backend_api', 'prod_backend_api_preview'];
  assert.equal(colorSessions(scur, pools, 'blue'), 6);
  assert.equal(colorSessions(scur, pools, 'green'), 5);
  assert.equal(colorSessions(scur, [], 'blue'), 0);
});
