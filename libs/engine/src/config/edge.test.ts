import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { parseEdgeDefinition } from './edge';
import { parseEnvironment } from './environment';
import { loadWorkspace } from './workspace';

const ROOT = resolve(__dirname, '../../../..');

test('every edge in infra/edges parses', async () => {
  const ws = await loadWorkspace(ROOT);
  assert.deepEqual(ws.edgeNames, ['local-edge', 'veza-haproxy', 'veza-itest-haproxy', 'veza-lab']);
  const shared = ws.edge('veza-haproxy');
  assert.equal(shared.https?.certDir, '/usr/local/etc/tls/haproxy/');
  assert.deepEqual(shared.sites.map((s) => [s.name, s.tls]), [['forgejo', false], ['talas_vitrine', true]]);
  assert.equal(ws.edge('veza-lab').lab?.instances, 2);
});

test('errors name the file, the key and the line', () => {
  const text = ['name: x', 'host: local', 'http:', '  port: 18080', '  addresses: [10.0.0.1]', 'runtime: { socketDir: "${VEZA_EDGE_DIR}" }', ''].join('\n');
  assert.throws(() => parseEdgeDefinition('infra/edges/x.yaml', text), /infra\/edges\/x\.yaml:5: http\.addresses\.0: the local edge binds only to loopback/);
  const typo = ['name: x', 'host: incus', 'runtime: { socketDir: /run/haproxy }', 'sites:', '  - name: forgejo', '    hosts: [Forgejo.Example]', '    server: 10.0.0.1:3000', ''].join('\n');
  assert.throws(() => parseEdgeDefinition('infra/edges/x.yaml', typo), /infra\/edges\/x\.yaml:6: sites\.0\.hosts\.0: must be a lower-case DNS host name/);
  const both = ['name: x', 'host: incus', 'runtime: { socketDir: /run/haproxy }', 'sites:', '  - name: s', '    hosts: [s.example]', '    server: 10.0.0.1:3000', '    placeholder: soon', ''].join('\n');
  assert.throws(() => parseEdgeDefinition('infra/edges/x.yaml', both), /sites\.0: give exactly one of server or placeholder/);
  assert.throws(() => parseEdgeDefinition('infra/edges/y.yaml', 'name: x\nhost: incus\nruntime: { socketDir: /run/haproxy }\n'), /name "x" differs from the file name/);
  assert.throws(() => parseEdgeDefinition('infra/edges/x.yaml', 'name: x\nhost: incus\ntopology: multi-instance\nruntime: { socketDir: /run/haproxy }\n'), /x\.yaml:\d+: lab: the multi-instance topology needs lab/);
});

test('tunnelDrainMs: 30 s by default; a negative, fractional or over-an-hour bound is refused with file:line', () => {
  const edge = (line: string) => ['name: x', 'host: incus', 'runtime: { socketDir: /run/haproxy }', line, ''].join('\n');
  assert.equal(parseEdgeDefinition('infra/edges/x.yaml', edge('apply: runtime')).tunnelDrainMs, 30_000);
  assert.equal(parseEdgeDefinition('infra/edges/x.yaml', edge('tunnelDrainMs: 0')).tunnelDrainMs, 0);
  assert.throws(() => parseEdgeDefinition('infra/edges/x.yaml', edge('tunnelDrainMs: -1')), /x\.yaml:4: tunnelDrainMs: must be 0 \(stop at once\) or more/);
  assert.throws(() => parseEdgeDefinition('infra/edges/x.yaml', edge('tunnelDrainMs: 2.5')), /x\.yaml:4: tunnelDrainMs: must be a whole number of milliseconds/);
  assert.throws(() => parseEdgeDefinition('infra/edges/x.yaml', edge('tunnelDrainMs: 3600001')), /x\.yaml:4: tunnelDrainMs: must be at most 3600000 \(1 h, the edge's tunnel timeout/);
  assert.throws(() => parseEdgeDefinition('infra/edges/x.yaml', edge('tunnelDrainMs: 30s')), /x\.yaml:4: tunnelDrainMs: must be a number of milliseconds, e\.g\. 30000/);
});

test('drainMs, which a switch no longer reads, is refused with file:line and what to do', () => {
  const text = ['name: x', 'host: incus', 'runtime: { socketDir: /run/haproxy }', 'drainMs: 10000', ''].join('\n');
  assert.throws(() => parseEdgeDefinition('infra/edges/x.yaml', text), /x\.yaml:4: drainMs: no longer read: a switch puts the old colour straight in maintenance.*delete the line/);
});

test('unknown and malformed edge names are refused with the list of edges', async () => {
  const ws = await loadWorkspace(ROOT);
  assert.throws(() => ws.edge('nope'), (e: Error & { hint?: string }) => /unknown edge "nope"/.test(e.message) && /veza-haproxy/.test(e.hint!));
  assert.throws(() => ws.edge('../etc'), /invalid edge name/);
});

test('ACME input is refused with file:line: relative cert dir, bad email, a host listed twice, a wildcard', () => {
  const edge = (lines: string[]) => ['name: x', 'host: incus', 'runtime: { socketDir: /run/haproxy }', ...lines, ''].join('\n');
  const acme = ['acme:', '  server: 127.0.0.1:8888', '  directory: https://ca.test/dir', '  email: ops@veza.test', '  stateDir: /var/lib/veza/acme'];
  const https = 'https: { certDir: /etc/tls/ }';
  assert.equal(parseEdgeDefinition('infra/edges/x.yaml', edge([https, ...acme])).acme?.renewDays, 30);
  assert.throws(() => parseEdgeDefinition('infra/edges/x.yaml', edge(['https: { certDir: etc/tls/ }', ...acme])), /x\.yaml:4: https\.certDir: must be an absolute directory path/);
  assert.throws(() => parseEdgeDefinition('infra/edges/x.yaml', edge([https, ...acme.slice(0, 3), '  email: ops-at-veza', acme[4]!])), /x\.yaml:8: acme\.email: must be an email address/);
  const site = (hosts: string) => ['sites:', '  - name: s', `    hosts: [${hosts}]`, '    placeholder: soon'];
  assert.throws(() => parseEdgeDefinition('infra/edges/x.yaml', edge([https, ...acme, ...site('a.test, b.test, a.test')])), /x\.yaml:12: sites\.0\.hosts\.2: a\.test is listed twice/);
  assert.throws(() => parseEdgeDefinition('infra/edges/x.yaml', edge([https, ...acme, ...site('"*.veza.test"')])), /x\.yaml:12: sites\.0\.hosts\.0: wildcard hosts cannot get a certificate over HTTP-01/);
  assert.throws(() => parseEdgeDefinition('infra/edges/x.yaml', edge([https, ...acme.slice(0, 2), '  directory: http://ca.test/dir', ...acme.slice(3)])), /x\.yaml:7: acme\.directory: must be the https:\/\/ URL of an ACME directory/);
});

test('an environment listing a public host twice or a wildcard is refused with file:line', () => {
  const env = (hosts: string) => ['name: e', 'driver: incus', 'prefix: e-', `publicHosts: [${hosts}]`, 'publicUrl: https://veza.test', 'edge: veza-haproxy', 'registry: { url: "file:.veza/registry", owner: veza }', ''].join('\n');
  assert.throws(() => parseEnvironment('infra/environments/e.yaml', env('veza.test, www.veza.test, veza.test')), /e\.yaml:4: publicHosts\.2: veza\.test is listed twice/);
  assert.throws(() => parseEnvironment('infra/environments/e.yaml', env('"*.veza.test"')), /e\.yaml:4: publicHosts\.0: wildcard hosts cannot get a certificate/);
});

test('a local lab names the loopback subnet its instances bind', () => {
  const lab = (extra: string) => ['name: x', 'host: local', 'topology: multi-instance', 'http: { port: 18080, addresses: [127.0.0.1] }', 'runtime: { socketDir: "${VEZA_EDGE_DIR}" }', `lab: { hosts: [lab.test], instances: 2, prefix: veza-lab-, dnsSuffix: lxd${extra} }`, ''].join('\n');
  assert.equal(parseEdgeDefinition('infra/edges/x.yaml', lab(', subnet: "127.78.1"')).lab?.subnet, '127.78.1');
  assert.throws(() => parseEdgeDefinition('infra/edges/x.yaml', lab('')), /x\.yaml:6: lab: a local lab needs subnet/);
});

test('an Incus edge may carry its own placement; a local one is refused it with file:line', () => {
  const edge = (host: string, incus: string) => ['name: x', `host: ${host}`, 'runtime: { socketDir: /run/haproxy }', `incus: ${incus}`, ''].join('\n');
  assert.deepEqual(parseEdgeDefinition('infra/edges/x.yaml', edge('incus', '{ project: veza-lab, network: net-lab, image: "images:debian/13", storagePool: fast }')).incus,
    { project: 'veza-lab', network: 'net-lab', image: 'images:debian/13', storagePool: 'fast' });
  assert.deepEqual(parseEdgeDefinition('infra/edges/x.yaml', edge('incus', '{ project: veza-lab }')).incus, { project: 'veza-lab' }, 'unset fields stay unset: the environments\' defaults fill them');
  assert.throws(() => parseEdgeDefinition('infra/edges/x.yaml', edge('incus', '{ network: a-network-name-too-long }')), /x\.yaml:4: incus\.network/);
  assert.throws(() => parseEdgeDefinition('infra/edges/x.yaml', edge('incus', '{ zone: z }')), /x\.yaml:4: incus/);
  const local = ['name: x', 'host: local', 'http: { port: 18080, addresses: [127.0.0.1] }', 'runtime: { socketDir: "${VEZA_EDGE_DIR}" }', 'incus: { project: p }', ''].join('\n');
  assert.throws(() => parseEdgeDefinition('infra/edges/x.yaml', local), /x\.yaml:5: incus: a local edge runs no container: remove incus, or set host: incus/);
});
