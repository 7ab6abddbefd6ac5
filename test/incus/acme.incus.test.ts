import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { loadWorkspace } from '@veza/engine/config/workspace';
import { INCUS_EDGE_PATHS } from '@veza/engine/edge/incus-edge-host';
import { parseShowProc } from '@veza/engine/edge/runtime-api';
import { startPebble, useFreshAcmeAccount } from '@veza/engine/edge/testing/pebble';
import { requestLoop } from '@veza/engine/edge/testing/request-loop';
import { get, tlsPeer } from '@veza/engine/edge/testing/tls-probe';
import { IncusClient } from '@veza/engine/hosts/incus/client';
import { createProcessRunner } from '@veza/engine/ports/process';
import { copyRepository } from '../e2e/support/copy';
import { ownBridge, wipeProject } from './support/project';

/**
 * ACME on the Incus edge, through the commands users type in a copy of
 * this repository (`nx run infra-edge:bootstrap|certificates
 * --env=acme-incus`): the edge container installs HAProxy with apt as in
 * production; Debian's Pebble (Let's Encrypt's test CA) and
 * pebble-challtestsrv run on this host, on its loopback range 127.79.150.x,
 * where lego (run by the command, on this host) reaches them. The edge's
 * proxy devices forward 127.0.0.1:18483/18484 into the container, so every
 * host Pebble validates resolves to 127.0.0.1 and its HTTP-01 request
 * crosses the real edge; the edge's challenge route comes back to the
 * command's responder on 127.79.150.4 through the edge's `acme` proxy device
 * (bound in the container), and its two sites reach this host on the test's
 * own bridge (vezaacmebr0, 10.231.82.1, NAT for apt). A dry-run, issuance, the redirect, a forced renewal under load, a
 * failing order and a CA that is down, each checked at the edge. Runs
 * beside deploy.incus.test.ts: its own project, bridge, edge and ports; all
 * removed pass or fail.
 */
const ENV = 'acme-incus';
const EDGE = 'veza-acme-haproxy';
const PROJECT = 'veza-itest-acme';
const BRIDGE = { name: 'vezaacmebr0', address: '10.231.82.1' };
const HTTP_PORT = 18483;
const HTTPS_PORT = 18484;
/**
 * The command's challenge responder, on this host's loopback: the edge's `acme` proxy device listens on the same
 * address inside the container and carries HAProxy's challenge requests here.
 */
const RESPONDER = '127.79.150.4:26150';
/** The two sites' backend, on this host's address on the bridge, where the edge container reaches it. */
const SITE_BACKEND = { host: BRIDGE.address, port: 26151 };
const PEBBLE = { address: '127.79.150.2', portBase: 26110 };
/** Where a host is pointed to get a wrong challenge answer. */
const IMPOSTOR = '127.79.150.3';
const HOSTS = ['a.acme.test', 'b.acme.test'];
const CERT_DIR = '/etc/haproxy/certs/';

test('certificates on the Incus edge: Pebble issues through the container\'s HAProxy, renewals reach it without a reload', { timeout: 30 * 60_000 }, async (t) => {
  const started = Date.now();
  const say = (m: string) => process.stderr.write(`[acme-incus +${((Date.now() - started) / 1000).toFixed(1)}s] ${m}\n`);
  const removeBridge = await ownBridge(BRIDGE.name, `${BRIDGE.address}/24`);
  // One hook, in order: the bridge cannot go while the project's container still uses it.
  let env: Parameters<typeof wipeProject>[0] | undefined;
  t.after(async () => {
    if (env) say(`teardown: removed ${PROJECT} with ${(await wipeProject(env)).join(', ') || 'nothing'}`);
    await removeBridge();
  });

  const repo = await copyRepository(t, { subnet: '127.79.159', port: 26159, nxTimeoutMs: 20 * 60_000 });
  const pebble = await startPebble({ dir: join(repo.dir, '.pebble'), ...PEBBLE, defaultIPv4: '127.0.0.1', httpPort: HTTP_PORT });
  t.after(() => pebble.stop());
  const site = await listen(createServer((req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end(`site ${req.headers.host}\n`)), SITE_BACKEND.port, SITE_BACKEND.host);
  const impostor = await listen(createServer((_, res) => res.writeHead(200).end('not-the-key-authorization')), HTTP_PORT, IMPOSTOR);
  t.after(() => Promise.all([site, impostor].map((s) => new Promise((r) => s.close(r)))));

  await fs.writeFile(join(repo.dir, `infra/environments/${ENV}.yaml`), [
    `name: ${ENV}`, 'driver: incus', 'prefix: veza-acme-', `network: ${BRIDGE.name}`, 'publicHosts: [localhost]',
    `publicUrl: http://localhost:${HTTP_PORT}`, `edge: ${EDGE}`, 'registry: { url: "file:.veza/registry", owner: veza }',
    `incus: { project: ${PROJECT}, image: veza-test-base, dnsSuffix: incus, storagePool: veza-test-btrfs }`, '',
  ].join('\n'));
  await fs.writeFile(join(repo.dir, `infra/edges/${EDGE}.yaml`), [
    `name: ${EDGE}`, 'host: incus', 'topology: blue-green',
    `http: { port: ${HTTP_PORT}, addresses: [127.0.0.1] }`,
    `https: { port: ${HTTPS_PORT}, addresses: [127.0.0.1], certDir: ${CERT_DIR} }`,
    'acme:', `  server: ${RESPONDER}`, `  directory: ${pebble.directory}`, '  email: ops@acme.test', '  renewDays: 30',
    `  stateDir: ${join(repo.dir, '.acme-state')}`, `  caBundle: ${pebble.caFile}`,
    'runtime: { socketDir: /run/haproxy }', 'apply: runtime', 'sites:',
    ...HOSTS.map((h) => `  - { name: ${h.split('.')[0]}, hosts: [${h}], server: "${SITE_BACKEND.host}:${SITE_BACKEND.port}" }`), '',
  ].join('\n'));
  await repo.commit('the ACME test environment and edge');
  env = (await loadWorkspace(repo.dir)).env(ENV);
  const leftovers = await wipeProject(env);
  if (leftovers.length) say(`removed leftovers of an earlier run: ${leftovers.join(', ')}`);

  const timings: Record<string, number> = {};
  const nx = async (label: string, target: string, ...extra: string[]) => {
    const t0 = Date.now();
    const r = await repo.nx('run', `infra-edge:${target}`, `--env=${ENV}`, ...extra);
    timings[label] = (Date.now() - t0) / 1000;
    say(`${label}: nx run infra-edge:${target} ${extra.join(' ')} → exit ${r.code} in ${timings[label]!.toFixed(1)} s (load ${(await fs.readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ')})`);
    return r;
  };
  const client = new IncusClient(createProcessRunner(), PROJECT);
  const inside = async (argv: string[], input?: string) => (await client.output(EDGE, argv, input === undefined ? {} : { input })).trim();
  const showProc = async () => parseShowProc(await inside(['socat', 'STDIO', `UNIX-CONNECT:${INCUS_EDGE_PATHS.master}`], 'show proc\n'));
  const root = await pebble.issuingRoot();
  const served = (name: string) => tlsPeer('127.0.0.1', HTTPS_PORT, name, root);
  const serial = async (name: string) => (await served(name)).cert.serialNumber;

  await t.test('bootstrap creates the edge container, installs HAProxy with apt and serves the self-signed default', async () => {
    const r = await nx('bootstrap', 'bootstrap');
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /created the self-signed default \/etc\/haproxy\/certs\/0-default\.pem/);
    assert.equal((await served('a.acme.test')).authorized, false, 'no certificate from Pebble yet');
  });

  await t.test('a dry-run plans an order per host and changes nothing in the container', async () => {
    const r = await nx('dry-run', 'certificates', '--dry-run');
    assert.equal(r.code, 0, r.out);
    for (const name of HOSTS) assert.match(r.out, new RegExp(`${name.replace(/\./g, '\\.')}: issue \\(no certificate for this host yet\\): lego --server ${pebble.directory}`));
    assert.equal(await inside(['ls', CERT_DIR]), '0-default.pem');
  });

  await t.test('issues for both hosts: HTTPS serves the chains Pebble issued, verified against its root', async () => {
    const r = await nx('issue 2 hosts', 'certificates');
    assert.equal(r.code, 0, r.out);
    for (const name of HOSTS) {
      const peer = await served(name);
      assert.equal(peer.authorized, true, `${name}: ${peer.error}`);
      assert.match(peer.cert.subjectaltname ?? '', new RegExp(`DNS:${name.replace(/\./g, '\\.')}`));
      assert.equal(await inside(['stat', '-c', '%a %U', `${CERT_DIR}${name}.pem`]), '600 root', 'written into the container\'s SNI directory for the next start');
    }
    assert.equal((await get('https', '127.0.0.1', HTTPS_PORT, '/', 'a.acme.test', root)).status, 200);
    const metrics = await client.readFile(EDGE, `${INCUS_EDGE_PATHS.state}/metrics/veza-certificates-${EDGE}.prom`);
    assert.match(metrics ?? '', /veza_certificate_renewal_success\{edge="veza-acme-haproxy",host="b\.acme\.test"\} 1/);
  });

  await t.test('http redirects to https, except the ACME challenge path', async () => {
    const page = await get('http', '127.0.0.1', HTTP_PORT, '/some/page', 'a.acme.test');
    assert.equal(page.status, 301);
    assert.equal(page.location, 'https://a.acme.test/some/page');
    const challenge = await get('http', '127.0.0.1', HTTP_PORT, '/.well-known/acme-challenge/abc', 'a.acme.test');
    assert.notEqual(challenge.status, 301);
    assert.equal(challenge.location, undefined);
  });

  await t.test('a forced renewal under a request loop: 0 failed requests, no reload, new certificates served', async () => {
    const before = { proc: await showProc(), a: await serial('a.acme.test'), b: await serial('b.acme.test') };
    const loop = requestLoop(() => get('https', '127.0.0.1', HTTPS_PORT, '/', 'a.acme.test', root), 3, 20_000);
    const r = await nx('forced renewal of 2 hosts under load', 'certificates', '--force').finally(() => loop.stop());
    const counts = await loop.done;
    const after = await showProc();
    assert.equal(r.code, 0, r.out);
    assert.equal(counts.failed, 0, `failed requests: ${counts.errors.slice(0, 3).join('; ')}`);
    assert.ok(counts.ok > 0);
    assert.equal(after.reloads, before.proc.reloads);
    assert.deepEqual(after.workers.map((w) => w.pid), before.proc.workers.map((w) => w.pid));
    assert.notEqual(await serial('a.acme.test'), before.a);
    assert.notEqual(await serial('b.acme.test'), before.b);
    // A figure for BENCHMARKS.md, printed, never asserted.
    console.log(`# Incus edge: forced renewal of 2 hosts under load: ${timings['forced renewal of 2 hosts under load']!.toFixed(1)} s, ${counts.ok} HTTPS requests answered 200 (new TLS connection each), ${counts.failed} failed`);
  });

  await t.test('an order with a wrong challenge answer leaves the served certificate unchanged', async () => {
    await useFreshAcmeAccount(join(repo.dir, `infra/edges/${EDGE}.yaml`));
    await pebble.pointHost('b.acme.test', IMPOSTOR);
    const [a, b] = [await serial('a.acme.test'), await serial('b.acme.test')];
    const r = await nx('a failing order', 'certificates', '--force');
    assert.notEqual(r.code, 0);
    assert.match(r.out, /certificates failed for b\.acme\.test/);
    assert.equal(await serial('b.acme.test'), b);
    assert.notEqual(await serial('a.acme.test'), a);
    await pebble.pointHost('b.acme.test', '127.0.0.1');
  });

  await t.test('an ACME server that is down: the command names its URL, the edge keeps its certificates', async () => {
    const a = await serial('a.acme.test');
    await pebble.stopPebble();
    const r = await nx('CA down', 'certificates', '--force');
    assert.notEqual(r.code, 0);
    assert.ok(r.out.includes(`the ACME server ${pebble.directory} is unreachable`), r.out);
    const peer = await served('a.acme.test');
    assert.equal(peer.authorized, true);
    assert.equal(peer.cert.serialNumber, a);
  });

  console.log(`# Incus edge ACME timings: ${Object.entries(timings).map(([k, v]) => `${k} ${v.toFixed(1)} s`).join(', ')}`);
});

function listen(server: Server, port: number, host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}
