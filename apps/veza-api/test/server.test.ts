import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { test } from 'node:test';
import WebSocket from 'ws';
import { listen } from '@veza/component-runtime/runtime';
import { API_VERSION, createApiServer } from '../src/server';

const RELEASE = 'a'.repeat(40);

/** A loopback port with nothing listening: the database is down. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

async function startApi(t: { after(fn: () => unknown): void }, now?: () => number) {
  const api = createApiServer({
    release: RELEASE,
    color: 'green',
    env: 'staging',
    databaseUrl: `postgres://veza:hunter2-secret@127.0.0.1:${await closedPort()}/veza`,
    now,
  });
  t.after(() => api.close());
  const { port } = await listen(api.server, 0, '127.0.0.1');
  return { api, base: `http://127.0.0.1:${port}`, wsBase: `ws://127.0.0.1:${port}` };
}

function openWs(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

test('health answers 200 {"status":"ok"} for GET and HEAD without touching the database', async (t) => {
  const { base } = await startApi(t);
  const get = await fetch(`${base}/api/v1/health`);
  assert.equal(get.status, 200);
  assert.match(get.headers.get('content-type') ?? '', /^application\/json/);
  assert.deepEqual(await get.json(), { status: 'ok' });

  const head = await fetch(`${base}/api/v1/health?probe=1`, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('content-length'), String('{"status":"ok"}'.length));
  assert.equal(await head.text(), '');
});

test('status reports release, colour, env, version and uptime, and says when the database is unreachable', async (t) => {
  let clock = 1_000_000;
  const { base } = await startApi(t, () => clock);
  clock += 61_900;
  const res = await fetch(`${base}/api/v1/status`);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), {
    component: 'veza-api',
    release: RELEASE,
    color: 'green',
    env: 'staging',
    version: API_VERSION,
    uptimeSeconds: 61,
    database: 'unreachable',
    schemaVersion: null,
  });
});

test('unknown paths get a JSON 404, wrong methods a 405 naming the allowed ones', async (t) => {
  const { base } = await startApi(t);
  for (const path of ['/', '/api/v1', '/api/v1/healthz', '/api/v2/health', '/api/v1/health/']) {
    const res = await fetch(base + path);
    assert.equal(res.status, 404, path);
    assert.deepEqual(await res.json(), { error: 'not found' });
  }
  const post = await fetch(`${base}/api/v1/health`, { method: 'POST', body: '{}' });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get('allow'), 'GET, HEAD');
  await post.body?.cancel();
});

test('the WebSocket at /api/v1/ws echoes text and binary frames', async (t) => {
  const { wsBase } = await startApi(t);
  const ws = await openWs(`${wsBase}/api/v1/ws`);
  t.after(() => ws.terminate());
  const next = () => new Promise<{ data: WebSocket.RawData; isBinary: boolean }>((r) => ws.once('message', (data, isBinary) => r({ data, isBinary })));

  let reply = next();
  ws.send('hello veza');
  let got = await reply;
  assert.equal(got.isBinary, false);
  assert.equal(got.data.toString(), 'hello veza');

  const bytes = Buffer.from([0, 1, 2, 250, 255]);
  reply = next();
  ws.send(bytes);
  got = await reply;
  assert.equal(got.isBinary, true);
  assert.deepEqual(got.data, bytes);
});

test('WebSocket upgrades elsewhere are refused, and a plain GET of /api/v1/ws gets 426', async (t) => {
  const { base, wsBase } = await startApi(t);
  await assert.rejects(openWs(`${wsBase}/api/v1/other`), /Unexpected server response: 404/);
  await assert.rejects(openWs(`${wsBase}/api/v1/health`), /Unexpected server response: 404/);
  const plain = await fetch(`${base}/api/v1/ws`);
  assert.equal(plain.status, 426);
  await plain.body?.cancel();
});

test('close() sends open sockets a 1001 going-away and stops listening', async (t) => {
  const { api, base, wsBase } = await startApi(t);
  const ws = await openWs(`${wsBase}/api/v1/ws`);
  const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
  await api.close();
  assert.equal(await closed, 1001);
  assert.equal(api.server.listening, false);
  await assert.rejects(fetch(`${base}/api/v1/health`));
});
