import assert from 'node:assert/strict';
import { get } from 'node:http';
import { test } from 'node:test';
import { listen } from '@veza/component-runtime/runtime';
import { createStreamServer } from '../src/server';

const RELEASE = 'd'.repeat(40);

async function startStream(t: { after(fn: () => unknown): void }, now?: () => number) {
  const s = createStreamServer({ release: RELEASE, color: 'blue', env: 'prod', now });
  t.after(() => s.close());
  const { port } = await listen(s.server, 0, '127.0.0.1');
  return `http://127.0.0.1:${port}`;
}

/** fetch() normalises `%2e%2e` and spaces away; this sends the path exactly as written. */
function rawGet(base: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get(base + '/', { path }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d)).on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

async function bytes(res: Response): Promise<Buffer> {
  return Buffer.from(await res.arrayBuffer());
}

/** Parses an HLS media playlist into its tags and segment entries, checking the shape a player needs. */
function parsePlaylist(text: string) {
  const lines = text.split('\n');
  assert.equal(lines[0], '#EXTM3U');
  assert.equal(lines.at(-1), '', 'ends with a newline');
  assert.equal(lines.at(-2), '#EXT-X-ENDLIST');
  const target = Number(/^#EXT-X-TARGETDURATION:(\d+)$/m.exec(text)?.[1]);
  assert.match(text, /^#EXT-X-VERSION:3$/m);
  const segments: { duration: number; uri: string }[] = [];
  for (let i = 0; i < lines.length; i++) {
    const inf = /^#EXTINF:(\d+\.\d{3}),$/.exec(lines[i]);
    if (inf) segments.push({ duration: Number(inf[1]), uri: lines[++i] });
  }
  return { target, segments };
}

test('health answers GET and HEAD; status reports component, release, colour, env and uptime', async (t) => {
  let clock = 5_000;
  const base = await startStream(t, () => clock);
  const health = await fetch(`${base}/stream/health`);
  assert.equal(health.status, 200);
  assert.deepEqual(await health.json(), { status: 'ok' });
  const head = await fetch(`${base}/stream/health`, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(await head.text(), '');

  clock += 3_200;
  const status = await fetch(`${base}/stream/status`);
  assert.equal(status.status, 200);
  assert.deepEqual(await status.json(), { component: 'veza-stream', release: RELEASE, color: 'blue', env: 'prod', uptimeSeconds: 3 });
});

test('index.m3u8 is a VOD playlist whose every segment is served as 188-byte TS packets', async (t) => {
  const base = await startStream(t);
  const res = await fetch(`${base}/tracks/Track_01-a/index.m3u8`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'application/vnd.apple.mpegurl');
  const { target, segments } = parsePlaylist(await res.text());
  assert.ok(segments.length >= 4 && segments.length <= 8, `segment count ${segments.length}`);
  assert.deepEqual(segments.map((s) => s.uri), segments.map((_, n) => `${n}.ts`));
  for (const s of segments) assert.ok(s.duration > 0 && Math.round(s.duration) <= target, `EXTINF ${s.duration} within target ${target}`);

  for (const s of segments) {
    const seg = await fetch(`${base}/tracks/Track_01-a/${s.uri}`);
    assert.equal(seg.status, 200, s.uri);
    assert.equal(seg.headers.get('content-type'), 'video/mp2t');
    const body = await bytes(seg);
    assert.equal(seg.headers.get('content-length'), String(body.length));
    assert.equal(body.length % 188, 0);
    for (let k = 0; k < body.length / 188; k++) {
      assert.equal(body[k * 188], 0x47, `sync byte of packet ${k}`);
      assert.equal(body[k * 188 + 3] & 0x0f, k & 0x0f, `continuity counter of packet ${k}`);
    }
  }
});

test('segments are the same bytes and ETag on every server and request, and differ between tracks and indexes', async (t) => {
  const a = await startStream(t);
  const b = await startStream(t);
  const [one, two] = await Promise.all([fetch(`${a}/tracks/abc/1.ts`), fetch(`${b}/tracks/abc/1.ts`)]);
  const [bodyOne, bodyTwo] = await Promise.all([bytes(one), bytes(two)]);
  assert.deepEqual(bodyOne, bodyTwo);
  assert.equal(one.headers.get('etag'), two.headers.get('etag'));
  assert.match(one.headers.get('etag') ?? '', /^"[0-9a-f]{32}"$/);

  const otherIndex = await bytes(await fetch(`${a}/tracks/abc/2.ts`));
  const otherTrack = await bytes(await fetch(`${a}/tracks/abd/1.ts`));
  assert.notDeepEqual(bodyOne.subarray(4, 188), otherIndex.subarray(4, 188));
  assert.notDeepEqual(bodyOne.subarray(4, 188), otherTrack.subarray(4, 188));

  const cached = await fetch(`${a}/tracks/abc/1.ts`, { headers: { 'if-none-match': one.headers.get('etag')! } });
  assert.equal(cached.status, 304);
  assert.equal((await bytes(cached)).length, 0);
});

test('invalid track ids get 400; missing segments, odd names and unknown paths get 404; writes get 405', async (t) => {
  const base = await startStream(t);
  for (const id of ['a'.repeat(65), 'bad.id', '..', '%2e%2e', 'caf%C3%A9', 'a%20b']) {
    const res = await rawGet(base, `/tracks/${id}/index.m3u8`);
    assert.equal(res.status, 400, id);
    assert.match((JSON.parse(res.body) as { error: string }).error, /invalid track id/);
  }
  const { segments } = parsePlaylist(await (await fetch(`${base}/tracks/${'z'.repeat(64)}/index.m3u8`)).text());
  for (const path of [
    `/tracks/${'z'.repeat(64)}/${segments.length}.ts`,
    '/tracks/abc/01.ts',
    '/tracks/abc/-1.ts',
    '/tracks/abc/1.m4s',
    '/tracks/abc/index.m3u',
    '/tracks/abc',
    '/tracks//index.m3u8',
    '/stream',
    '/',
  ]) {
    const res = await fetch(base + path);
    assert.equal(res.status, 404, path);
    await res.body?.cancel();
  }
  const post = await fetch(`${base}/tracks/abc/0.ts`, { method: 'POST' });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get('allow'), 'GET, HEAD');
  await post.body?.cancel();
});
