import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { DeployEdge } from './edge-port';
import { createChecks, type SlotTarget } from './probe';

/** A real HTTP server on loopback whose answers the test changes as it goes. */
async function server(t: { after(fn: () => unknown): void }, answer: (path: string, host: string) => [number, unknown]): Promise<number> {
  const s: Server = createServer((req, res) => {
    const [status, body] = answer(req.url ?? '/', req.headers.host ?? '');
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => s.close(() => r())));
  return (s.address() as { port: number }).port;
}

function edgeAt(port: number): DeployEdge {
  return {
    publicTarget: () => ({ host: '127.0.0.1', port, hostHeader: 'veza.localhost:18080', basePath: '/' }),
    probeFromEdge: async () => ({ status: 200, body: '' }),
  } as unknown as DeployEdge;
}

const SHA = 'ab'.repeat(20);

test('verification goes through the edge address with the public Host header and retries until the release shows', async (t) => {
  let calls = 0;
  const hosts = new Set<string>();
  const port = await server(t, (path, host) => {
    hosts.add(host);
    calls++;
    return path === '/api/v1/status' ? [200, { release: calls < 3 ? 'old' : SHA }] : [404, {}];
  });
  await createChecks(edgeAt(port)).publicRelease('veza-api', '/api/v1/status', SHA, { retries: 5, intervalMs: 10 });
  assert.equal(calls, 3);
  assert.deepEqual([...hosts], ['veza.localhost:18080']);
});

test('verification fails after its retries, saying what the public URL reports', async (t) => {
  const port = await server(t, () => [200, { release: 'f'.repeat(40) }]);
  await assert.rejects(createChecks(edgeAt(port)).publicRelease('veza-api', '/api/v1/status', SHA, { retries: 3, intervalMs: 5 }), (e: Error & { code?: string }) =>
    e.code === 'VERIFY_FAILED' && /after 3 tries: it reports release ffff/.test(e.message));
});

test('a health wait is bounded and names the slot and the last answer', async (t) => {
  let healthy = false;
  const port = await server(t, () => (healthy ? [200, { status: 'ok' }] : [503, {}]));
  const target: SlotTarget = { component: 'veza-api', slot: 'veza-local-api-green', host: '127.0.0.1', port, path: '/health' };
  const checks = createChecks(edgeAt(port));
  const started = Date.now();
  await assert.rejects(checks.waitHealthy(target, { timeoutMs: 200, intervalMs: 20 }), (e: Error & { code?: string }) =>
    e.code === 'HEALTH_FAILED' && /veza-local-api-green did not answer 2xx .* within 200 ms; last: HTTP 503/.test(e.message));
  assert.ok(Date.now() - started < 2_000);
  assert.equal(await checks.isHealthy(target), false);
  healthy = true;
  await checks.waitHealthy(target, { timeoutMs: 200, intervalMs: 20 });
  assert.equal(await checks.isHealthy({ ...target, port: 1 }), false, 'nothing listening is unhealthy, not an error');
});
