import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { tempWorkspace } from '../hosts/local/testing/fixtures';
import { readCacheLog, readStubStatus, renderNginxCache } from './nginx-cache';
import { cacheGet } from './testing/cache-get';

/**
 * The media cache on a real nginx (Debian's, which has the slice module) on
 * 127.79.66.x: the rendered file passes `nginx -t`; the same segment gives
 * MISS then HIT whatever Authorization it carries; the cache folder holds
 * it; a range at an arbitrary offset hits the slice already cached; with the
 * upstream stopped the cached segment is still served, and a playlist past
 * its freshness is served STALE; stub_status answers.
 */
const SEGMENT = randomBytes(3 * 1024 * 1024 + 12_345);

function upstream(hits: string[]): Promise<Server> {
  const server = createServer((req, res) => {
    hits.push(`${req.url} ${req.headers.range ?? ''}`);
    // A live playlist whose origin says it is fresh for 1 s (nginx takes Cache-Control over proxy_cache_valid).
    if (req.url?.endsWith('live.m3u8')) return void res.writeHead(200, { 'cache-control': 'max-age=1' }).end('#EXTM3U\n#EXT-X-TARGETDURATION:4\nseg.ts\n');
    if (req.url?.endsWith('.m3u8')) return void res.end('#EXTM3U\n#EXT-X-TARGETDURATION:4\nseg.ts\n');
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (!m) return void res.end(SEGMENT);
    const start = Number(m[1]);
    const end = Math.min(m[2] ? Number(m[2]) : SEGMENT.length - 1, SEGMENT.length - 1);
    res.writeHead(206, { 'content-range': `bytes ${start}-${end}/${SEGMENT.length}`, 'content-length': end - start + 1, 'accept-ranges': 'bytes' });
    res.end(SEGMENT.subarray(start, end + 1));
  });
  return new Promise((resolve) => server.listen(25761, '127.79.66.3', () => resolve(server)));
}

const get = (path: string, headers: Record<string, string> = {}) => cacheGet(`http://127.79.66.1:25760${path}`, headers);

test('nginx cache: nginx -t passes; MISS then HIT without Authorization in the key; a range hits its slice; stale when the upstream is gone', async (t) => {
  const tmp = await tempWorkspace(t, 'nginx-cache');
  const dir = (n: string) => join(tmp.dir, n);
  for (const d of ['cache', 'tmp', 'run']) await fs.mkdir(dir(d), { mode: 0o700 });
  // Run as root, nginx's workers are `nobody`: they own what they write.
  if (process.getuid?.() === 0) {
    const nobody = Number(execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).trim());
    for (const d of ['cache', 'tmp']) await fs.chown(dir(d), nobody, 0);
  }
  const conf = renderNginxCache({ listen: { host: '127.79.66.1', port: 25760 }, upstream: [{ host: '127.79.66.3', port: 25761 }], status: { host: '127.79.66.2', port: 25762 }, cacheDir: dir('cache'), tempDir: dir('tmp'), pidFile: dir('run/nginx.pid'), errorLog: dir('run/error.log'), accessLog: dir('run/access.log'), maxSize: '64m' });
  const file = dir('nginx.conf');
  await fs.writeFile(file, conf, { mode: 0o600 });
  const nginx = (args: string[]) => execFileSync('nginx', ['-p', tmp.dir, '-c', file, '-e', dir('run/error.log'), ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  nginx(['-t']);

  const hits: string[] = [];
  const origin = await upstream(hits);
  tmp.defer(() => origin.listening && new Promise((r) => origin.close(r)));
  nginx([]);
  // Before the workspace goes: nginx reads its pid file there.
  tmp.defer(() => nginx(['-s', 'quit']));

  const first = await get('/media/seg.ts', { Authorization: 'Bearer user-a' });
  assert.equal(first.status, 200);
  assert.equal(first.cache, 'MISS');
  assert.ok(first.body.equals(SEGMENT), 'the whole segment, put together from its slices');
  const upstreamCalls = hits.length;
  assert.equal(upstreamCalls, 4, `one upstream request per 1 MiB slice: ${hits.join(', ')}`);

  const second = await get('/media/seg.ts', { Authorization: 'Bearer user-b', Cookie: 'session=other' });
  assert.equal(second.cache, 'HIT', 'another user, another Authorization and Cookie: the same key');
  assert.ok(second.body.equals(SEGMENT));
  assert.equal(hits.length, upstreamCalls, 'a HIT never reaches the upstream');
  const entries = execFileSync('find', [dir('cache'), '-type', 'f'], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
  assert.equal(entries.length, 4, 'the cache folder holds the four slices');

  const offset = 2 * 1024 * 1024 + 777;
  const ranged = await get('/media/seg.ts', { Range: `bytes=${offset}-${offset + 99}` });
  assert.equal(ranged.status, 206);
  assert.equal(ranged.cache, 'HIT', 'a range at an arbitrary offset is served from the slice that holds it');
  assert.ok(ranged.body.equals(SEGMENT.subarray(offset, offset + 100)));

  const playlist = [await get('/media/index.m3u8'), await get('/media/index.m3u8')].map((r) => r.cache);
  assert.deepEqual(playlist, ['MISS', 'HIT']);
  assert.equal((await get('/media/live.m3u8')).cache, 'MISS');
  const plain = await get('/media/other.json');
  assert.equal(plain.cache, 'BYPASS', 'not cached, and X-Cache-Status says so');

  await new Promise((r) => origin.close(r));
  const stale = await get('/media/seg.ts');
  assert.equal(stale.status, 200, 'the upstream is gone and the cached segment is still served');
  assert.ok(stale.body.equals(SEGMENT));
  // An entry past its freshness with the upstream gone: proxy_cache_use_stale answers from the cache, and says so.
  // nginx keeps time in whole seconds: max-age=1 stored during second S is fresh through S + 1, up to 2 s later.
  await new Promise((r) => setTimeout(r, 2_500));
  const expired = await get('/media/live.m3u8');
  assert.deepEqual([expired.status, expired.cache, expired.body.toString()], [200, 'STALE', '#EXTM3U\n#EXT-X-TARGETDURATION:4\nseg.ts\n']);

  const status = (await cacheGet('http://127.79.66.2:25762/nginx_status')).body.toString();
  assert.ok(readStubStatus(status), status);
  // The log infra-data:status counts: every answer once (slices are not answers), BYPASS outside the ratio.
  const counts = readCacheLog(await fs.readFile(dir('run/access.log'), 'utf8'));
  assert.deepEqual(counts.byStatus, { MISS: 3, HIT: 4, STALE: 1, BYPASS: 1 });
  assert.equal(counts.hitRatio, 5 / 8);
});
