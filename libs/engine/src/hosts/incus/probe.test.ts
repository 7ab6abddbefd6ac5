import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { createServer as createNetServer, type Socket } from 'node:net';
import { createProcessRunner } from '../../ports/process';
import { isVezaError } from '../../log/errors';
import { PROBE_USER_AGENT, probeAnswer, probeArgv } from './probe';

/**
 * The in-slot probe's argv runs here for real — bash and coreutils'
 * timeout are the same Debian binaries a slot container has — against a
 * real HTTP server on 127.0.0.1, the address it targets inside a slot.
 */
async function server(t: { after(fn: () => unknown): void }, status: number | 'silent'): Promise<{ port: number; seen: { url?: string; headers: IncomingHttpHeaders }[] }> {
  const seen: { url?: string; headers: IncomingHttpHeaders }[] = [];
  const sockets = new Set<Socket>();
  const s = createServer((req, res) => {
    seen.push({ url: req.url, headers: req.headers });
    if (status === 'silent') return;
    res.writeHead(status, { 'content-type': 'text/plain' });
    res.end('body\n');
  });
  s.on('connection', (c) => {
    sockets.add(c);
    c.on('close', () => sockets.delete(c));
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => {
    for (const c of sockets) c.destroy();
    s.close(() => r());
  }));
  return { port: (s.address() as { port: number }).port, seen };
}

/** A port nothing listens on: one the kernel just handed out and took back. */
async function freePort(): Promise<number> {
  const s = createNetServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as { port: number };
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const run = (argv: string[], timeoutMs: number) => createProcessRunner().run({ argv, timeoutMs: timeoutMs + 5_000 }, { check: false });

test('the probe GETs the path on 127.0.0.1 and reports the status line, 2xx or not', async (t) => {
  for (const status of [200, 503]) {
    const s = await server(t, status);
    const res = await run(probeArgv(s.port, '/api/health?deep=1', 2_000), 2_000);
    assert.deepEqual(probeAnswer(res, 2_000), { status });
    assert.equal(s.seen.length, 1);
    assert.equal(s.seen[0]!.url, '/api/health?deep=1');
    assert.equal(s.seen[0]!.headers.host, `127.0.0.1:${s.port}`);
    assert.equal(s.seen[0]!.headers['user-agent'], PROBE_USER_AGENT);
    assert.equal(s.seen[0]!.headers.connection, 'close');
  }
});

test('nothing listening and a server that never answers are reasons, not statuses', async (t) => {
  const silent = await server(t, 'silent');
  const refused = probeAnswer(await run(probeArgv(await freePort(), '/health', 2_000), 2_000), 2_000);
  assert.ok('error' in refused && /^\/dev\/tcp\/127\.0\.0\.1\/\d+: Connection refused$/.test(refused.error), JSON.stringify(refused));
  const hung = probeAnswer(await run(probeArgv(silent.port, '/health', 300), 300), 300);
  assert.deepEqual(hung, { error: 'no answer within 300 ms' });
  assert.equal(silent.seen.length, 1, 'the request reached the server');
});

test('argv is data: the port and path are arguments of a fixed script, and bad ones are refused', () => {
  const argv = probeArgv(8080, '/health', 2_000);
  assert.deepEqual(argv.slice(0, 6), ['timeout', '-k', '1', '2', 'bash', '-c']);
  assert.deepEqual(argv.slice(7), ['veza-probe', '8080', '/health']);
  assert.equal(probeArgv(8080, '/health', 2_500)[3], '2.5');
  for (const [port, path] of [[0, '/h'], [65_536, '/h'], [8080, 'health'], [8080, '/a b'], [8080, '/a\r\nX: y'], [8080, '/é']] as [number, string][]) {
    assert.throws(() => probeArgv(port, path, 2_000), (e: unknown) => isVezaError(e) && e.code === 'INVALID_INPUT', `${port} ${JSON.stringify(path)}`);
  }
});

test('what the probe printed is read strictly', () => {
  assert.deepEqual(probeAnswer({ exitCode: 0, stdout: 'HTTP/1.0 204 No Content\r', stderr: '' }, 1_000), { status: 204 });
  assert.deepEqual(probeAnswer({ exitCode: 0, stdout: 'SSH-2.0-OpenSSH_9.2', stderr: '' }, 1_000), { error: 'not an HTTP answer: "SSH-2.0-OpenSSH_9.2"' });
  assert.deepEqual(probeAnswer({ exitCode: 1, stdout: '', stderr: 'Error: Instance not found' }, 1_000), { error: 'Error: Instance not found' });
  assert.deepEqual(probeAnswer({ exitCode: 1, stdout: '', stderr: '' }, 1_000), { error: 'probe exit 1' });
});
