import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { createMemoryLogger, type Logger } from '../log/logger';
import { describeError, isVezaError } from '../log/errors';
import { createRegistry } from './registry';
import { parseForgejoBase } from './forgejo-registry';
import type { ArtifactCoords } from './coords';
import { startForgejoDouble, type ForgejoDouble, type ForgejoDoubleOptions } from './testing/forgejo-double';
import { artifactFile, FAST_RETRY, forgejoEnvironment, listFiles, READ_ONLY_TOKEN, rejection, sha256, tempDir, TOKEN, TOKEN_ENV } from './testing/fixtures';

const SHA = 'a'.repeat(40);
const coords: ArtifactCoords = { owner: 'veza', package: 'veza-api', version: SHA, file: 'veza-api.tar.zst' };

async function double(t: { after(fn: () => Promise<void>): void }, opts: ForgejoDoubleOptions = {}): Promise<ForgejoDouble> {
  const d = await startForgejoDouble({ tokens: { [TOKEN]: ['write:package'], [READ_ONLY_TOKEN]: ['read:package'] }, ...opts });
  t.after(() => d.close());
  return d;
}

function registry(d: { baseUrl: string }, opts: { token?: string; log?: Logger } = {}) {
  return createRegistry(forgejoEnvironment(d.baseUrl), '/nonexistent', {
    processEnv: { [TOKEN_ENV]: opts.token ?? TOKEN },
    retry: FAST_RETRY,
    log: opts.log,
  });
}

const statuses = (d: ForgejoDouble) => d.requests.map((r) => `${r.method} ${r.status}`);

test('a new artifact is PUT once with the token and answered 201 → created', async (t) => {
  const d = await double(t);
  const a = await artifactFile(await tempDir(t), 'a.tar.zst');
  assert.equal(await registry(d).upload(coords, a.path, a.sha256), 'created');
  assert.deepEqual(statuses(d), ['PUT 201']);
  assert.equal(d.requests[0]!.path, '/api/packages/veza/generic/veza-api/' + SHA + '/veza-api.tar.zst');
  assert.ok(d.requests[0]!.authorized);
  assert.deepEqual(d.stored(coords), a.data);
  assert.equal(await registry(d).remoteSha256(coords), a.sha256);
});

test('a 409 duplicate with the same sha256 is success (exists), checked through the files listing', async (t) => {
  const d = await double(t);
  const a = await artifactFile(await tempDir(t), 'a.tar.zst');
  d.seed(coords, a.data);
  assert.equal(await registry(d).upload(coords, a.path, a.sha256), 'exists');
  assert.deepEqual(statuses(d), ['PUT 409', 'GET 200']);
  assert.equal(d.requests[1]!.path, `/api/v1/packages/veza/generic/veza-api/${SHA}/files`);
});

test('a 409 duplicate with a different sha256 is an immutability error and leaves the published file alone', async (t) => {
  const d = await double(t);
  const dir = await tempDir(t);
  const published = await artifactFile(dir, 'old.tar.zst');
  const mine = await artifactFile(dir, 'new.tar.zst');
  d.seed(coords, published.data);
  const r = await rejection(registry(d).upload(coords, mine.path, mine.sha256));
  assert.equal(r.code, 'ARTIFACT_IMMUTABLE');
  assert.match(r.line, /already published with different content.*immutable.*bump the version/);
  assert.deepEqual(d.stored(coords), published.data);
});

test('401 names the token variable and the missing scope, and is not retried', async (t) => {
  const d = await double(t);
  const a = await artifactFile(await tempDir(t), 'a.tar.zst');
  for (const token of [`wrong-${TOKEN}`, READ_ONLY_TOKEN]) {
    d.requests.length = 0;
    const r = await rejection(registry(d, { token }).upload(coords, a.path, a.sha256));
    assert.equal(r.code, 'REGISTRY_AUTH');
    assert.match(r.line, new RegExp(`401.*${TOKEN_ENV}.*write:package`));
    assert.deepEqual(statuses(d), ['PUT 401']);
  }
});

test('403 (Forgejo size limit) says forbidden and carries the server reason', async (t) => {
  const d = await double(t, { limitSizeGeneric: 1024 });
  const a = await artifactFile(await tempDir(t), 'a.tar.zst');
  const r = await rejection(registry(d).upload(coords, a.path, a.sha256));
  assert.equal(r.code, 'REGISTRY_FORBIDDEN');
  assert.match(r.line, /403 Forbidden.*maximum allowed package type size exceeded.*LIMIT_SIZE_GENERIC/);
  assert.deepEqual(statuses(d), ['PUT 403']);
});

test('413 from a proxy body limit or a Forgejo quota says too large', async (t) => {
  const a = await artifactFile(await tempDir(t), 'a.tar.zst');
  const proxied = await double(t, { proxyMaxBodySize: 64 * 1024 });
  let r = await rejection(registry(proxied).upload(coords, a.path, a.sha256));
  assert.equal(r.code, 'REGISTRY_TOO_LARGE');
  assert.match(r.line, new RegExp(`\\(${a.data.length} bytes\\) is too large.*413 Request Entity Too Large`));
  assert.deepEqual(statuses(proxied), ['PUT 413']);

  const quota = await double(t, { overQuota: ['veza'] });
  r = await rejection(registry(quota).upload(coords, a.path, a.sha256));
  assert.equal(r.code, 'REGISTRY_TOO_LARGE');
  // Forgejo's body is the middleware's name; the hint has to say what a quota 413 means.
  assert.match(r.line, /413 Request Entity Too Large\): enforcePackagesQuota — .*Forgejo quota/);
});

test('404 on upload means the owner does not exist', async (t) => {
  const d = await double(t, { owners: ['someone-else'] });
  const a = await artifactFile(await tempDir(t), 'a.tar.zst');
  const r = await rejection(registry(d).upload(coords, a.path, a.sha256));
  assert.equal(r.code, 'REGISTRY_NO_OWNER');
  assert.match(r.line, /owner "veza" does not exist.*registry\.owner/);
  assert.deepEqual(statuses(d), ['PUT 404']);
});

test('5xx answers are retried with backoff, then the upload succeeds', async (t) => {
  const d = await double(t);
  const a = await artifactFile(await tempDir(t), 'a.tar.zst');
  const log = createMemoryLogger();
  d.failNext(2, 502);
  assert.equal(await registry(d, { log }).upload(coords, a.path, a.sha256), 'created');
  assert.deepEqual(statuses(d), ['PUT 502', 'PUT 502', 'PUT 201']);
  assert.deepEqual(d.stored(coords), a.data);
  assert.equal(log.lines.filter((l) => /502.*attempt \d\/4/.test(l)).length, 2);
});

test('retries are bounded: a registry that keeps failing gives up after the configured attempts', async (t) => {
  const d = await double(t);
  const a = await artifactFile(await tempDir(t), 'a.tar.zst');
  d.failNext(10, 500);
  const r = await rejection(registry(d).upload(coords, a.path, a.sha256));
  assert.equal(r.code, 'REGISTRY_UNAVAILABLE');
  assert.match(r.line, /after 4 attempts \(last: 500/);
  assert.equal(d.requests.length, 4);
});

test('a dropped connection is retried, then the upload succeeds', async (t) => {
  const d = await double(t);
  const a = await artifactFile(await tempDir(t), 'a.tar.zst');
  d.failNext(1, 'drop');
  assert.equal(await registry(d).upload(coords, a.path, a.sha256), 'created');
  assert.deepEqual(statuses(d), ['PUT dropped', 'PUT 201']);
  assert.deepEqual(d.stored(coords), a.data);
});

test('a connection dropped after the server stored the file resolves to exists on retry (idempotent)', async (t) => {
  const d = await double(t);
  const a = await artifactFile(await tempDir(t), 'a.tar.zst');
  d.failNext(1, 'drop-after-store');
  assert.equal(await registry(d).upload(coords, a.path, a.sha256), 'exists');
  assert.deepEqual(statuses(d), ['PUT dropped', 'PUT 409', 'GET 200']);
});

test('the token appears in no log line, no error message and no description', async (t) => {
  const d = await double(t, { limitSizeGeneric: 200 * 1024 });
  const dir = await tempDir(t);
  const small = await artifactFile(dir, 'small.tar.zst', 100 * 1024);
  const big = await artifactFile(dir, 'big.tar.zst');
  const log = createMemoryLogger('json');
  const reg = registry(d, { log });
  const seen: string[] = [reg.describe()];
  const attempt = async (p: Promise<unknown>) => {
    try {
      await p;
    } catch (e) {
      seen.push(describeError(e), (e as Error).stack ?? '');
      log.error(describeError(e));
    }
  };
  d.failNext(2, 502);
  await attempt(reg.upload(coords, small.path, small.sha256));
  await attempt(reg.upload(coords, small.path, small.sha256));
  await attempt(reg.upload(coords, big.path, big.sha256));
  await attempt(reg.upload({ ...coords, file: 'big.tar.zst' }, big.path, big.sha256));
  d.failNext(10, 'drop');
  await attempt(reg.upload({ ...coords, file: 'other.tar.zst' }, small.path, small.sha256));
  await attempt(registry(d, { token: READ_ONLY_TOKEN, log }).upload({ ...coords, file: 'x.tar.zst' }, small.path, small.sha256));
  await attempt(reg.download({ ...coords, file: 'missing.tar.zst' }, join(dir, 'out'), small.sha256));
  assert.ok(log.lines.length >= 5, 'the scenarios produced log output');
  for (const text of [...seen, ...log.lines]) {
    assert.ok(!text.includes(TOKEN) && !text.includes(READ_ONLY_TOKEN), `token leaked in: ${text}`);
    // Redaction is the last line of defence; nothing here should even have needed it.
    assert.ok(!text.includes('***'), `a secret reached the logger and was redacted: ${text}`);
  }
});

test('download streams the file, verified, into place', async (t) => {
  const d = await double(t);
  const dir = await tempDir(t);
  const a = await artifactFile(dir, 'a.tar.zst');
  d.seed(coords, a.data);
  const dest = join(dir, 'out', 'veza-api.tar.zst');
  await registry(d).download(coords, dest, a.sha256);
  assert.equal(sha256(await fs.readFile(dest)), a.sha256);
});

test('a tampered download leaves nothing at the destination', async (t) => {
  const d = await double(t);
  const dir = await tempDir(t);
  const expected = await artifactFile(dir, 'expected.tar.zst');
  const tampered = await artifactFile(dir, 'tampered.tar.zst');
  d.seed(coords, tampered.data);
  const outDir = join(dir, 'out');
  const r = await rejection(registry(d).download(coords, join(outDir, 'veza-api.tar.zst'), expected.sha256));
  assert.equal(r.code, 'ARTIFACT_MISMATCH');
  assert.deepEqual(await listFiles(outDir), []);
});

test('a download cut off mid-body is retried and the partial bytes never land', async (t) => {
  const d = await double(t);
  const dir = await tempDir(t);
  const a = await artifactFile(dir, 'a.tar.zst');
  d.seed(coords, a.data);
  d.failNext(1, 'truncate');
  const outDir = join(dir, 'out');
  await registry(d).download(coords, join(outDir, 'veza-api.tar.zst'), a.sha256);
  assert.deepEqual(statuses(d), ['GET 200', 'GET 200']);
  assert.deepEqual(await listFiles(outDir), ['veza-api.tar.zst']);
  assert.equal(sha256(await fs.readFile(join(outDir, 'veza-api.tar.zst'))), a.sha256);
});

test('a missing artifact downloads as a clear not-found error', async (t) => {
  const d = await double(t);
  const dir = await tempDir(t);
  const r = await rejection(registry(d).download(coords, join(dir, 'x'), 'b'.repeat(64)));
  assert.equal(r.code, 'ARTIFACT_NOT_FOUND');
  assert.equal(await registry(d).remoteSha256(coords), undefined);
});

test('a redirect to another origin (object storage) is followed without the token', async (t) => {
  const dir = await tempDir(t);
  const a = await artifactFile(dir, 'a.tar.zst');
  const storageAuth: (string | undefined)[] = [];
  const storage = createServer((req, res) => {
    storageAuth.push(req.headers.authorization);
    res.end(a.data);
  });
  await new Promise<void>((r) => storage.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => { storage.close(() => r()); storage.closeAllConnections(); }));
  const forgejoAuth: (string | undefined)[] = [];
  const forgejo = createServer((req, res) => {
    forgejoAuth.push(req.headers.authorization);
    res.writeHead(303, { location: `http://127.0.0.1:${(storage.address() as AddressInfo).port}/bucket/blob?sig=1` }).end();
  });
  await new Promise<void>((r) => forgejo.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => { forgejo.close(() => r()); forgejo.closeAllConnections(); }));

  const base = `http://127.0.0.1:${(forgejo.address() as AddressInfo).port}/api/packages`;
  await registry({ baseUrl: base }).download(coords, join(dir, 'out'), a.sha256);
  assert.deepEqual(forgejoAuth, [`token ${TOKEN}`]);
  assert.deepEqual(storageAuth, [undefined]);
});

test('package base URLs: sub-paths keep their API root; unsafe or non-Forgejo URLs are refused', () => {
  assert.deepEqual(parseForgejoBase('https://git.example/forge/api/packages/', 'e.yaml'), {
    base: 'https://git.example/forge/api/packages',
    apiRoot: 'https://git.example/forge',
  });
  const refused = (url: string, re: RegExp) => assert.throws(() => parseForgejoBase(url, 'e.yaml'), (e: unknown) => isVezaError(e) && re.test(e.toLine()));
  refused('http://git.example/api/packages', /plain http.*send the token in clear/);
  refused('https://user:pw@git.example/api/packages', /embeds credentials/);
  refused('https://git.example/api/packages/talas/generic', /does not end in \/api\/packages/);
  refused('not a url', /is not a URL/);
});

test('a missing token variable is refused before any request, naming the variable', async (t) => {
  const d = await double(t);
  const env = forgejoEnvironment(d.baseUrl);
  assert.throws(() => createRegistry(env, '/x', { processEnv: {} }), (e: unknown) =>
    isVezaError(e) && e.code === 'MISSING_SECRET' && e.message.includes(TOKEN_ENV));
  assert.throws(() => createRegistry(env, '/x', { processEnv: { [TOKEN_ENV]: `${TOKEN}\n` } }), (e: unknown) =>
    isVezaError(e) && e.code === 'BAD_SECRET' && !e.toLine().includes(TOKEN));
  const noVar = forgejoEnvironment(d.baseUrl);
  delete noVar.registry.tokenEnv;
  assert.throws(() => createRegistry(noVar, '/x', { processEnv: {} }), /registry\.tokenEnv is not set/);
  assert.equal(d.requests.length, 0);
});

test('local-* versions are refused by Forgejo before any request', async (t) => {
  const d = await double(t);
  const a = await artifactFile(await tempDir(t), 'a.tar.zst');
  const r = await rejection(registry(d).upload({ ...coords, version: 'local-0123456789ab' }, a.path, a.sha256));
  assert.equal(r.code, 'INVALID_INPUT');
  assert.match(r.line, /local-\* versions are only for the local registry/);
  assert.equal(d.requests.length, 0);
});

test('an unknown token is refused (401) before the owner is looked up, on upload, download and listing', async (t) => {
  const d = await double(t, { owners: ['someone-else'] });
  const dir = await tempDir(t);
  const a = await artifactFile(dir, 'a.tar.zst');
  const wrong = registry(d, { token: `wrong-${TOKEN}` });
  for (const call of [() => wrong.upload(coords, a.path, a.sha256), () => wrong.download(coords, join(dir, 'out'), a.sha256), () => wrong.remoteSha256(coords)]) {
    assert.equal((await rejection(call())).code, 'REGISTRY_AUTH');
  }
  assert.deepEqual(statuses(d), ['PUT 401', 'GET 401', 'GET 401']);
});

test('a 409 for a file listed under another case is resolved by its sha256, as Forgejo matches names case-insensitively', async (t) => {
  const d = await double(t);
  const a = await artifactFile(await tempDir(t), 'a.tar.zst');
  d.seed({ ...coords, file: 'VEZA-API.tar.zst' }, a.data);
  assert.equal(await registry(d).upload(coords, a.path, a.sha256), 'exists');
  assert.deepEqual(statuses(d), ['PUT 409', 'GET 200']);
  assert.equal(await registry(d).remoteSha256(coords), a.sha256);
});

test('a download redirected to object storage on the same origin goes there without the token', async (t) => {
  const d = await double(t, { serveDirect: true });
  const dir = await tempDir(t);
  const a = await artifactFile(dir, 'a.tar.zst');
  d.seed(coords, a.data);
  await registry(d).download(coords, join(dir, 'out'), a.sha256);
  assert.deepEqual(await fs.readFile(join(dir, 'out')), a.data);
  assert.deepEqual(d.requests.map((r) => `${r.method} ${r.status} ${r.authorized ? 'token' : 'no token'}`), ['GET 303 token', 'GET 200 no token']);
});

test("a renamed owner's 307 is followed with the token, and the warning says to update registry.owner", async (t) => {
  const d = await double(t, { owners: ['veza-music'], renamedOwners: { veza: 'veza-music' } });
  const dir = await tempDir(t);
  const a = await artifactFile(dir, 'a.tar.zst');
  const log = createMemoryLogger();
  assert.equal(await registry(d, { log }).upload(coords, a.path, a.sha256), 'created');
  assert.deepEqual(d.stored({ ...coords, owner: 'veza-music' }), a.data);
  await registry(d, { log }).download(coords, join(dir, 'out'), a.sha256);
  assert.equal(await registry(d, { log }).upload(coords, a.path, a.sha256), 'exists');
  assert.deepEqual(statuses(d), ['PUT 307', 'PUT 201', 'GET 307', 'GET 200', 'PUT 307', 'PUT 409', 'GET 307', 'GET 200']);
  assert.ok(d.requests.every((r) => r.authorized));
  assert.match(log.lines[0]!, /registry owner "veza" was renamed to "veza-music".*set registry\.owner: veza-music/);
});
