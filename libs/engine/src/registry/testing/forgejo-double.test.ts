import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { startForgejoDouble, type ForgejoDouble } from './forgejo-double';

const TOKEN = 'double-test-token';
const SHA = 'a'.repeat(40);

async function double(t: { after(fn: () => Promise<void>): void }): Promise<ForgejoDouble> {
  const d = await startForgejoDouble({ tokens: { [TOKEN]: ['write:package'] }, overQuota: ['full'], owners: ['veza', 'full'] });
  t.after(() => d.close());
  return d;
}

/** A raw request: node:http sends the path as written (no `..` folding), as curl --path-as-is would. */
function send(d: ForgejoDouble, method: string, path: string, o: { token?: string; body?: string } = {}): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  const { port } = new URL(d.baseUrl);
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers: o.token ? { authorization: `token ${o.token}` } : {} }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode!, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end(o.body);
  });
}

const file = (pkg: string, name: string, version = SHA, owner = 'veza') => `/api/packages/${owner}/generic/${pkg}/${version}/${name}`;

test('package names refuse a single non-alphanumeric character and "..", as Forgejo does', async (t) => {
  const d = await double(t);
  for (const pkg of ['-', '_', '.', '..']) assert.equal((await send(d, 'PUT', file(pkg, 'f'), { token: TOKEN, body: 'x' })).status, 400, pkg);
  for (const pkg of ['a', '7', 'a.b_c+d-e']) assert.equal((await send(d, 'PUT', file(pkg, 'f'), { token: TOKEN, body: 'x' })).status, 201, pkg);
});

test("file names allow Forgejo's wider set, but no surrounding space, '.', '..' or '|'", async (t) => {
  const d = await double(t);
  for (const name of ["a b(1)[2]{3}~!@#$%^&=;:.tar", 'v1.0+build']) {
    assert.equal((await send(d, 'PUT', file('p', encodeURIComponent(name)), { token: TOKEN, body: 'x' })).status, 201, name);
  }
  for (const name of [' lead', 'trail ', '.', '..', 'inva|id']) {
    const res = await send(d, 'PUT', file('p', encodeURIComponent(name)), { token: TOKEN, body: 'x' });
    assert.deepEqual([res.status, res.body], [400, 'package filename is invalid'], name);
  }
  assert.equal((await send(d, 'PUT', file('p', 'f', '%201.0'), { token: TOKEN, body: 'x' })).body, 'package version is invalid');
});

test('owner, package, version and file name match case-insensitively; the listing keeps the uploaded case', async (t) => {
  const d = await double(t);
  assert.equal((await send(d, 'PUT', file('Pkg', 'File.TXT', 'V1'), { token: TOKEN, body: 'x' })).status, 201);
  assert.equal((await send(d, 'PUT', file('pkg', 'file.txt', 'v1', 'VEZA'), { token: TOKEN, body: 'y' })).status, 409);
  assert.equal((await send(d, 'GET', file('PKG', 'FILE.txt', 'v1', 'Veza'))).body, 'x');
  const listed = JSON.parse((await send(d, 'GET', '/api/v1/packages/VEZA/generic/pkg/V1/files')).body) as { name: string }[];
  assert.deepEqual(listed.map((f) => f.name), ['File.TXT']);
});

test('an unknown token is 401 on every route, before the owner is looked up', async (t) => {
  const d = await double(t);
  for (const [method, path] of [['PUT', file('p', 'f', SHA, 'nobody')], ['GET', file('p', 'f', SHA, 'nobody')], ['HEAD', file('p', 'f')], ['GET', '/api/v1/packages/nobody/generic/p/v/files']]) {
    assert.equal((await send(d, method!, path!, { token: 'unknown' })).status, 401, `${method} ${path}`);
  }
  // Without any token the owner is looked up first.
  assert.equal((await send(d, 'PUT', file('p', 'f', SHA, 'nobody'))).status, 404);
});

test('no HEAD and no DELETE: 405 with an empty body', async (t) => {
  const d = await double(t);
  await send(d, 'PUT', file('p', 'f'), { token: TOKEN, body: 'x' });
  for (const method of ['HEAD', 'DELETE']) {
    const res = await send(d, method, file('p', 'f'), { token: TOKEN });
    assert.deepEqual([res.status, res.body], [405, ''], method);
  }
});

test('the files listing answers a public owner without a token', async (t) => {
  const d = await double(t);
  await send(d, 'PUT', file('p', 'f'), { token: TOKEN, body: 'x' });
  const res = await send(d, 'GET', `/api/v1/packages/veza/generic/p/${SHA}/files`);
  assert.equal(res.status, 200);
  assert.deepEqual((JSON.parse(res.body) as { name: string; Size: number }[]).map((f) => [f.name, f.Size]), [['f', 1]]);
});

test("a quota 413's body is the middleware's name, as Forgejo's ctx.Error writes it", async (t) => {
  const d = await double(t);
  const res = await send(d, 'PUT', file('p', 'f', SHA, 'full'), { token: TOKEN, body: 'x' });
  assert.deepEqual([res.status, res.body], [413, 'enforcePackagesQuota\n']);
});
