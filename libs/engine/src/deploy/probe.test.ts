import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HostDriver, SlotProbe } from '../hosts/port';
import type { DeployEdge } from './edge-port';
import { httpGet } from '../util/http';
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

/** A driver whose probe is a real GET on loopback, as the local driver's is, recording which slot each probe was for. */
function driverAt(port: number, asked: string[] = []): HostDriver {
  return {
    async probe(name: string, p: number, path: string, timeoutMs: number): Promise<SlotProbe> {
      asked.push(`${name} ${p}${path}`);
      const target = `http://127.0.0.1:${port}${path} for ${name}`;
      return httpGet({ host: '127.0.0.1', port: p, path, timeoutMs }).then((r) => ({ target, status: r.status }), (e: Error) => ({ target, error: e.message }));
    },
  } as unknown as HostDriver;
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
  await createChecks(edgeAt(port), driverAt(port)).publicRelease('veza-api', '/api/v1/status', SHA, { retries: 5, intervalMs: 10 });
  assert.equal(calls, 3);
  assert.deepEqual([...hosts], ['veza.localhost:18080']);
});

test('verification fails after its retries, saying what the public URL reports', async (t) => {
  const port = await server(t, () => [200, { release: 'f'.repeat(40) }]);
  await assert.rejects(createChecks(edgeAt(port), driverAt(port)).publicRelease('veza-api', '/api/v1/status', SHA, { retries: 3, intervalMs: 5 }), (e: Error & { code?: string }) =>
    e.code === 'VERIFY_FAILED' && /after 3 tries: it reports release ffff/.test(e.message));
});

test('a health wait probes through the host driver, is bounded, and names the slot, where it probed and the last answer', async (t) => {
  let healthy = false;
  const port = await server(t, () => (healthy ? [200, { status: 'ok' }] : [503, {}]));
  // The slot's DNS name, as on Incus: only the driver knows how to reach the slot from where it runs.
  const target: SlotTarget = { component: 'veza-api', slot: 'veza-local-api-green', host: 'veza-local-api-green.incus', port, path: '/health' };
  const asked: string[] = [];
  const checks = createChecks(edgeAt(port), driverAt(port, asked));
  await assert.rejects(checks.waitHealthy(target, { timeoutMs: 200, intervalMs: 20 }), (e: Error & { code?: string }) =>
    e.code === 'HEALTH_FAILED' && e.message.startsWith(`slot veza-local-api-green did not answer 2xx on http://127.0.0.1:${port}/health for veza-local-api-green within 200 ms; last: HTTP 503`));
  assert.ok(asked.length > 1 && asked.every((a) => a === `veza-local-api-green ${port}/health`), asked.join(', '));
  // Bounded by the wait, not by luck: no more probes than 200 ms holds 20 ms intervals.
  assert.ok(asked.length <= 200 / 20 + 1, `${asked.length} probes`);
  assert.equal(await checks.isHealthy(target), false);
  healthy = true;
  await checks.waitHealthy(target, { timeoutMs: 200, intervalMs: 20 });
  assert.equal(await checks.isHealthy({ ...target, port: 1 }), false, 'nothing listening is unhealthy, not an error');
  await assert.rejects(checks.waitHealthy({ ...target, port: 1 }, { timeoutMs: 50, intervalMs: 20 }), (e: Error) => /last: .*ECONNREFUSED/.test(e.message));
});

test('a filesystem error while probing is reported at once with its path and operation, not as a timed-out health check', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'veza-probe-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const notADir = join(dir, 'slots');
  await writeFile(notADir, 'a file where the slots folder should be');
  let probes = 0;
  const driver = {
    async probe(): Promise<SlotProbe> {
      probes++;
      readdirSync(join(notADir, 'veza-x-api-green'));
      return { target: 'never', status: 200 };
    },
  } as unknown as HostDriver;
  const checks = createChecks(edgeAt(1), driver);
  const target: SlotTarget = { component: 'veza-api', slot: 'veza-x-api-green', host: '127.0.0.1', port: 1, path: '/health' };
  await assert.rejects(checks.waitHealthy(target, { timeoutMs: 60_000, intervalMs: 10 }), (e: Error & { code?: string; hint?: string }) =>
    e.code === 'FILESYSTEM_ERROR' && e.message.startsWith(`scandir ${join(notADir, 'veza-x-api-green')} failed (ENOTDIR)`) && /ls -ld/.test(e.hint ?? ''));
  assert.equal(probes, 1, 'no retry: waiting cannot mend a path');
});

test('a read-only health read asks again when a probe gets no answer, and takes an HTTP status as the answer at once', async () => {
  const target: SlotTarget = { component: 'veza-stream', slot: 'veza-local-stream-blue', host: 'veza-local-stream-blue.incus', port: 8080, path: '/stream/health' };
  const scripted = (answers: SlotProbe[], asked: SlotProbe[] = []): HostDriver =>
    ({ probe: async () => { const a = answers[Math.min(asked.length, answers.length - 1)]!; asked.push(a); return a; } }) as unknown as HostDriver;
  const none: SlotProbe = { target: 'inside', error: 'incus exec timed out' };
  const ok: SlotProbe = { target: 'inside', status: 200 };
  const failing: SlotProbe = { target: 'inside', status: 503 };

  const slowThenOk: SlotProbe[] = [];
  assert.equal(await createChecks(edgeAt(1), scripted([none, ok], slowThenOk)).isHealthy(target), true, 'one unanswered probe is not a fact');
  assert.equal(slowThenOk.length, 2);

  const answered503: SlotProbe[] = [];
  assert.equal(await createChecks(edgeAt(1), scripted([failing, ok], answered503)).isHealthy(target), false);
  assert.equal(answered503.length, 1, 'an HTTP answer is not asked again');

  const neverAnswers: SlotProbe[] = [];
  assert.equal(await createChecks(edgeAt(1), scripted([none], neverAnswers)).isHealthy(target), false);
  assert.equal(neverAnswers.length, 3, 'bounded: three probes, then unhealthy');
});
