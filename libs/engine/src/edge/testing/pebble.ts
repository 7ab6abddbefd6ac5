import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Let's Encrypt's test CA, for real: Debian's `pebble` behind its own TLS
 * (a throwaway CA made here, handed to the ACME client as acme.caBundle) and
 * `pebble-challtestsrv` as the DNS server Pebble resolves hosts with, so a
 * test decides where each host "points". Pebble validates HTTP-01 on
 * `httpPort` of the address a host resolves to: the edge's HTTP port.
 */
export interface PebbleOptions {
  dir: string;
  /** Loopback address Pebble and challtestsrv listen on. */
  address: string;
  /** Four consecutive free ports from here: ACME, Pebble management, DNS, challtestsrv management. */
  portBase: number;
  /** Where hosts resolve by default (the edge's address) and the port Pebble validates on. */
  defaultIPv4: string;
  httpPort: number;
}

export interface Pebble {
  directory: string;
  /** The CA certificate Pebble's own TLS is signed by (acme.caBundle). */
  caFile: string;
  /** The root Pebble issues under: what a client must trust to verify an issued chain. */
  issuingRoot(): Promise<string>;
  /** Points a host at another address (or back, with the edge's). */
  pointHost(host: string, ipv4: string): Promise<void>;
  stopPebble(): Promise<void>;
  stop(): Promise<void>;
}

export async function startPebble(o: PebbleOptions): Promise<Pebble> {
  await fs.mkdir(o.dir, { recursive: true });
  const file = (n: string) => join(o.dir, n);
  const [acmePort, mgmtPort, dnsPort, chalMgmtPort] = [0, 1, 2, 3].map((i) => o.portBase + i) as [number, number, number, number];
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', file('ca.key'), '-out', file('ca.pem'), '-days', '2', '-subj', '/CN=veza test pebble tls CA');
  openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', file('tls.key'), '-out', file('tls.csr'), '-subj', `/CN=${o.address}`);
  await fs.writeFile(file('ext.cnf'), `subjectAltName=IP:${o.address}\n`);
  openssl('x509', '-req', '-in', file('tls.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-CAcreateserial', '-out', file('tls.pem'), '-days', '2', '-extfile', file('ext.cnf'));
  await fs.writeFile(file('pebble.json'), JSON.stringify({
    pebble: {
      listenAddress: `${o.address}:${acmePort}`,
      managementListenAddress: `${o.address}:${mgmtPort}`,
      certificate: file('tls.pem'),
      privateKey: file('tls.key'),
      httpPort: o.httpPort,
      tlsPort: o.httpPort + 1,
      ocspResponderURL: '',
      externalAccountBindingRequired: false,
    },
  }));

  const children: ChildProcess[] = [];
  const start = (argv: string[], env: Record<string, string> = {}) => {
    const child = spawn(argv[0]!, argv.slice(1), { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
    children.push(child);
    return { child, stderr: () => err };
  };
  const chal = start(['pebble-challtestsrv', '-defaultIPv4', o.defaultIPv4, '-defaultIPv6', '', '-dns01', `${o.address}:${dnsPort}`,
    '-http01', '', '-https01', '', '-tlsalpn01', '', '-management', `${o.address}:${chalMgmtPort}`]);
  // Every challenge really validated (no sleeps, no reuse of an earlier authorization), and no random nonce rejections.
  const pebble = start(['pebble', '-config', file('pebble.json'), '-dnsserver', `${o.address}:${dnsPort}`], { PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0', PEBBLE_AUTHZREUSE: '0' });

  const ca = await fs.readFile(file('ca.pem'), 'utf8');
  const call = (port: number, method: string, path: string, body?: string) => new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request({ host: o.address, port, method, path, ca, agent: false, timeout: 5000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
  const plain = (path: string, body: string) => new Promise<void>((resolve, reject) => {
    // challtestsrv's management API is plain HTTP.
    fetch(`http://${o.address}:${chalMgmtPort}${path}`, { method: 'POST', body }).then((r) => (r.ok ? resolve() : reject(new Error(`${path}: ${r.status}`))), reject);
  });
  const waitUp = async (what: string, probe: () => Promise<unknown>, proc: { child: ChildProcess; stderr: () => string }) => {
    for (let i = 0; i < 200; i++) {
      if (proc.child.exitCode !== null) throw new Error(`${what} exited: ${proc.stderr()}`);
      try {
        await probe();
        return;
      } catch {
        await sleep(50);
      }
    }
    throw new Error(`${what} did not come up: ${proc.stderr()}`);
  };
  await waitUp('pebble-challtestsrv', () => plain('/clear-a', JSON.stringify({ host: 'probe.invalid' })), chal);
  await waitUp('pebble', async () => {
    if ((await call(acmePort, 'GET', '/dir')).status !== 200) throw new Error('not yet');
  }, pebble);

  const stopOne = async (c: ChildProcess) => {
    if (c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    await exited;
  };
  return {
    directory: `https://${o.address}:${acmePort}/dir`,
    caFile: file('ca.pem'),
    issuingRoot: async () => (await call(mgmtPort, 'GET', '/roots/0')).body,
    // add-a adds to what a host already has: clear it first, so the host resolves to this address only.
    pointHost: async (host, ipv4) => {
      await plain('/clear-a', JSON.stringify({ host }));
      await plain('/add-a', JSON.stringify({ host, addresses: [ipv4] }));
    },
    stopPebble: () => stopOne(pebble.child),
    stop: async () => {
      for (const c of children) await stopOne(c);
    },
  };
}

/**
 * Pebble reuses an account's valid authorization for a host now and then
 * even with PEBBLE_AUTHZREUSE=0 (it makes a new one only when
 * `rand.Intn(100) > percent`, seen in 2.4.0), so an order meant to fail on a
 * wrong challenge answer could pass without a challenge. An edge file given
 * a new ACME e-mail makes lego register a new account, which has none.
 */
export async function useFreshAcmeAccount(edgeFile: string): Promise<void> {
  const text = await fs.readFile(edgeFile, 'utf8');
  const next = text.replace(/^(\s*email: )(\S+)$/m, (_, key: string, email: string) => `${key}fresh-${Date.now()}-${email}`);
  if (next === text) throw new Error(`${edgeFile} has no acme email line to change`);
  await fs.writeFile(edgeFile, next);
}
