import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { loadWorkspace } from '../config/workspace';
import { createMemoryLogger } from '../log/logger';
import { VezaError } from '../log/errors';
import { bootstrapEdge } from './bootstrap';
import { certificateMetricsKey, certificates } from './certificates';
import { createLocalEdgeHost, localEdgeDir } from './local-edge-host';
import { cliRequest, parseShowProc } from './runtime-api';
import { createEdgeWorkspace, startBackends, type FixtureEnv } from './testing/edge-fixture';
import { startPebble, useFreshAcmeAccount } from './testing/pebble';
import { requestLoop } from './testing/request-loop';
import { get, tlsPeer } from './testing/tls-probe';
import { edgeLock, withLock } from '../state/lock';

/**
 * ACME end to end on the local edge: Pebble (Let's Encrypt's test CA) and
 * pebble-challtestsrv as DNS, lego ordering through the edge's
 * /.well-known/acme-challenge/ route, a real HAProxy serving the issued
 * chains. Everything binds 127.79.40-49.x, ports 25500-25599.
 */
const OCTET = 79;
const ENV: FixtureEnv = { name: 'acme', sub: 41, hosts: ['a.acme.test', 'b.acme.test'] };
const EDGE = '127.79.41.1';
const HTTP_PORT = 25580;
const HTTPS_PORT = 25543;
const RESPONDER = '127.79.40.3:25520';
/** A site whose DNS points elsewhere: nothing listens there. */
const ELSEWHERE = 'elsewhere.acme.test';
const NOWHERE = '127.79.49.254';
/** Where a host is pointed to get a wrong challenge answer. */
const IMPOSTOR = '127.79.49.253';

test('certificates: Pebble issues through the edge, HAProxy takes renewals without a reload', { timeout: 300_000 }, async (t) => {
  const fx = await createEdgeWorkspace({
    octet: OCTET, envs: [ENV], edgePort: HTTP_PORT, portBase: 25530, scheme: 'https', publicPort: HTTPS_PORT,
  });
  const certDir = join(fx.root, 'certs') + '/';
  const pebble = await startPebble({ dir: join(fx.root, 'pebble'), address: '127.79.40.2', portBase: 25510, defaultIPv4: EDGE, httpPort: HTTP_PORT });
  // The ACME section needs Pebble's URL and CA, known only once it runs.
  await fs.appendFile(join(fx.root, 'infra/edges/local-edge.yaml'), [
    `https: { port: ${HTTPS_PORT}, addresses: [${EDGE}], certDir: ${certDir} }`,
    'acme:',
    `  server: ${RESPONDER}`,
    `  directory: ${pebble.directory}`,
    '  email: ops@acme.test',
    '  renewDays: 30',
    `  stateDir: ${join(fx.root, 'acme-state')}`,
    `  caBundle: ${pebble.caFile}`,
    'sites:',
    '  - name: elsewhere',
    `    hosts: [${ELSEWHERE}]`,
    '    placeholder: not here',
    '',
  ].join('\n'));
  await pebble.pointHost(ELSEWHERE, NOWHERE);
  const backends = await startBackends(OCTET, ENV, 25530);
  const host = createLocalEdgeHost({ workspaceRoot: fx.root, edge: 'local-edge', stopTimeoutMs: 500 });
  const impostor = createServer((_, res) => res.writeHead(200).end('not-the-key-authorization'));
  await new Promise<void>((resolve) => impostor.listen(HTTP_PORT, IMPOSTOR, resolve));
  t.after(async () => {
    await host.stop();
    await new Promise((r) => impostor.close(r));
    await backends.close();
    await pebble.stop();
    await fx.remove();
  });

  const log = createMemoryLogger();
  const workspace = await loadWorkspace(fx.root);
  await bootstrapEdge({ workspace, edge: 'local-edge', log, host });
  const run = (force = false) => certificates({ workspace, edge: 'local-edge', log, host, force });
  const root = await pebble.issuingRoot();
  const served = (servername: string) => tlsPeer(EDGE, HTTPS_PORT, servername, root);
  // The master's own view: its reload counter and worker pids prove no reload happened.
  const showProc = async () => parseShowProc(await cliRequest(join(localEdgeDir(fx.root, 'local-edge'), 'master.sock'), 'show proc'));

  await t.test('dry-run plans an order per host and changes nothing', async () => {
    const before = await fs.readdir(certDir);
    const res = await certificates({ workspace, edge: 'local-edge', log, host, dryRun: true });
    assert.deepEqual(res.outcomes.map((o) => [o.host, o.action]), [['a.acme.test', 'issue'], ['b.acme.test', 'issue'], [ELSEWHERE, 'issue']]);
    assert.match(log.lines.join('\n'), /a\.acme\.test: issue \(no certificate for this host yet\): lego --server https:\/\/127\.79\.40\.2:25510\/dir/);
    assert.deepEqual(await fs.readdir(certDir), before);
  });

  await t.test('issues for both hosts; the host whose DNS points elsewhere fails alone', async () => {
    await assert.rejects(run(), (e: VezaError) => e.code === 'ACME_FAILED' && e.message.includes(ELSEWHERE) && !/a\.acme\.test|b\.acme\.test/.test(e.message));
    for (const name of ENV.hosts) {
      const peer = await served(name);
      assert.equal(peer.authorized, true, `${name}: ${peer.error}`);
      assert.match(peer.cert.subjectaltname ?? '', new RegExp(`DNS:${name.replace(/\./g, '\\.')}`));
      assert.ok(await fs.stat(`${certDir}${name}.pem`));
    }
    const answer = await get('https', EDGE, HTTPS_PORT, '/', 'a.acme.test', root);
    assert.equal(answer.status, 200);
    const metrics = await host.state.read(certificateMetricsKey('local-edge'));
    assert.match(metrics!, /veza_certificate_not_after_timestamp_seconds\{edge="local-edge",host="a\.acme\.test"\} \d+/);
    assert.match(metrics!, /veza_certificate_renewal_success\{edge="local-edge",host="elsewhere\.acme\.test"\} 0/);
    assert.match(metrics!, /veza_certificate_renewal_success\{edge="local-edge",host="b\.acme\.test"\} 1/);
  });

  await t.test('http redirects to https, except the ACME challenge path', async () => {
    const page = await get('http', EDGE, HTTP_PORT, '/some/page', 'a.acme.test');
    assert.equal(page.status, 301);
    assert.equal(page.location, 'https://a.acme.test/some/page');
    const challenge = await get('http', EDGE, HTTP_PORT, '/.well-known/acme-challenge/abc', 'a.acme.test');
    assert.notEqual(challenge.status, 301);
    assert.equal(challenge.location, undefined);
  });

  await t.test('a forced renewal under a request loop: 0 failed requests, no reload, new certificates served', async () => {
    await pebble.pointHost(ELSEWHERE, EDGE);
    const before = { proc: await showProc(), a: (await served('a.acme.test')).cert.serialNumber, b: (await served('b.acme.test')).cert.serialNumber };
    const loop = requestLoop(() => get('https', EDGE, HTTPS_PORT, '/api/v1/ping', 'a.acme.test', root), 3, 20_000);
    const started = performance.now();
    const res = await run(true).finally(() => loop.stop());
    const seconds = (performance.now() - started) / 1000;
    const counts = await loop.done;
    const after = await showProc();
    assert.deepEqual(res.outcomes.map((o) => [o.host, o.ok]), [['a.acme.test', true], ['b.acme.test', true], [ELSEWHERE, true]]);
    assert.equal(counts.failed, 0, `failed requests: ${counts.errors.slice(0, 3).join('; ')}`);
    assert.ok(counts.ok > 0);
    assert.equal(after.reloads, before.proc.reloads);
    assert.deepEqual(after.workers.map((w) => w.pid), before.proc.workers.map((w) => w.pid));
    assert.notEqual((await served('a.acme.test')).cert.serialNumber, before.a);
    assert.notEqual((await served('b.acme.test')).cert.serialNumber, before.b);
    assert.equal((await served(ELSEWHERE)).authorized, true);
    // A figure for BENCHMARKS.md, printed, never asserted.
    console.log(`# forced renewal of 3 hosts under load: ${seconds.toFixed(1)} s, ${counts.ok} HTTPS requests answered 200 (new TLS connection each), ${counts.failed} failed`);
  });

  await t.test('an order with a wrong challenge answer leaves the served certificate unchanged', async () => {
    await useFreshAcmeAccount(join(fx.root, 'infra/edges/local-edge.yaml'));
    await pebble.pointHost('b.acme.test', IMPOSTOR);
    const b = (await served('b.acme.test')).cert.serialNumber;
    const a = (await served('a.acme.test')).cert.serialNumber;
    await assert.rejects(certificates({ workspace: await loadWorkspace(fx.root), edge: 'local-edge', log, host, force: true }), (e: VezaError) => e.code === 'ACME_FAILED' && e.message.includes('b.acme.test') && !e.message.includes('a.acme.test'));
    assert.equal((await served('b.acme.test')).cert.serialNumber, b);
    assert.notEqual((await served('a.acme.test')).cert.serialNumber, a);
    await pebble.pointHost('b.acme.test', EDGE);
  });

  await t.test('an ACME server that is down: the command names its URL, the edge keeps its certificates', async () => {
    const a = (await served('a.acme.test')).cert.serialNumber;
    await pebble.stopPebble();
    await assert.rejects(run(true), (e: VezaError) => e.code === 'ACME_UNREACHABLE' && e.message.includes(pebble.directory));
    const peer = await served('a.acme.test');
    assert.equal(peer.authorized, true);
    assert.equal(peer.cert.serialNumber, a);
  });

  await t.test('a run while another holds the edge\'s ACME lock is refused, naming the holder', async () => {
    await withLock(host.state, edgeLock('local-edge-acme'), { action: 'certificates' }, async () => {
      await assert.rejects(run(true), (e: VezaError) => e.code === 'LOCKED' && /certificates/.test(e.message));
    });
  });
});
