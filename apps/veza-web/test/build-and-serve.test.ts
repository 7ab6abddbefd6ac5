import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { Agent, get, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { runEntry, startEntry, WORKSPACE_ROOT } from '../../../test/support/entry-process';
import { parseTokens } from '../tokens/css';
import { listen } from '@veza/component-runtime/runtime';
import { createWebServer } from '../server/web-server';

const RELEASE = '0123456789abcdef0123456789abcdef01234567';
const VITE = join(WORKSPACE_ROOT, 'node_modules/vite/bin/vite.js');
const TOKENS_FILE = join(WORKSPACE_ROOT, 'apps/veza-web/tokens/tokens.json');

let work: string;
let publicDir: string;
before(async () => {
  work = await fs.mkdtemp(join(tmpdir(), 'veza-web-test-'));
  publicDir = join(work, 'a', 'public');
  await viteBuild(publicDir);
});
after(() => fs.rm(work, { recursive: true, force: true }));

/** The real `vite build` the vite preset runs: the project's config, the release in the environment. */
async function viteBuild(outDir: string): Promise<void> {
  await promisify(execFile)(process.execPath, [VITE, 'build', 'apps/veza-web', '--outDir', outDir, '--logLevel', 'warn'], {
    cwd: WORKSPACE_ROOT,
    env: { ...process.env, VITE_RELEASE_SHA: RELEASE },
  });
}

async function tree(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await fs.readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const full = join(entry.parentPath, entry.name);
    out[relative(dir, full)] = createHash('sha256').update(await fs.readFile(full)).digest('hex');
  }
  return out;
}

async function assetsOf(ext: string): Promise<string[]> {
  return (await fs.readdir(join(publicDir, 'assets'))).filter((f) => f.endsWith(ext));
}

async function startWeb(t: { after(fn: () => unknown): void }, dir = publicDir) {
  const web = createWebServer({ publicDir: dir, release: RELEASE, color: 'green', env: 'local' });
  t.after(() => web.close());
  const { port } = await listen(web.server, 0, '127.0.0.1');
  return { base: `http://127.0.0.1:${port}`, port };
}

/** Sends the path byte for byte: fetch() would resolve `..` and `%2e%2e` before sending. */
function rawGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d)).on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

test('the build bakes the release sha into the JS and the pre-rendered page, and the design tokens into the CSS', async () => {
  const js = await assetsOf('.js');
  const css = await assetsOf('.css');
  assert.equal(js.length, 1);
  assert.equal(css.length, 1);
  assert.match(await fs.readFile(join(publicDir, 'assets', js[0]), 'utf8'), new RegExp(`"${RELEASE}"`));

  const cssText = await fs.readFile(join(publicDir, 'assets', css[0]), 'utf8');
  const tokens = parseTokens(await fs.readFile(TOKENS_FILE, 'utf8'), TOKENS_FILE);
  for (const [group, entries] of Object.entries(tokens)) {
    for (const name of Object.keys(entries)) assert.match(cssText, new RegExp(`--${group}-${name}:`), `--${group}-${name}`);
  }
  assert.match(cssText, /:root\{--color-bg: ?#0f1115;/);
  assert.match(cssText, /background:var\(--color-bg\)/);

  const html = await fs.readFile(join(publicDir, 'index.html'), 'utf8');
  assert.ok(html.includes(`/assets/${js[0]}`) && html.includes(`/assets/${css[0]}`));
  assert.match(html, new RegExp(`<div id="root"><main class="page">.*<dt>Web release</dt><dd class="mono">${RELEASE}</dd>`), 'the page shows the sha before any script runs');
});

test('two builds of the same source are byte-identical', async () => {
  const second = join(work, 'b', 'public');
  await viteBuild(second);
  const [a, b] = await Promise.all([tree(publicDir), tree(second)]);
  assert.ok(Object.keys(a).length >= 3);
  assert.deepEqual(b, a);
});

test('healthz and status.json answer; GET and HEAD only', async (t) => {
  const { base } = await startWeb(t);
  const health = await fetch(`${base}/healthz`);
  assert.equal(health.status, 200);
  assert.deepEqual(await health.json(), { status: 'ok' });
  const status = await fetch(`${base}/status.json`);
  assert.equal(status.headers.get('cache-control'), 'no-store');
  assert.deepEqual(await status.json(), { component: 'veza-web', release: RELEASE, color: 'green', env: 'local' });
  const post = await fetch(`${base}/`, { method: 'POST' });
  assert.equal(post.status, 405);
  await post.body?.cancel();
});

test('assets are served with their type, length and an immutable cache policy; index.html is revalidated', async (t) => {
  const { base } = await startWeb(t);
  const [js] = await assetsOf('.js');
  const [css] = await assetsOf('.css');
  const res = await fetch(`${base}/assets/${js}`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'text/javascript; charset=utf-8');
  assert.equal(res.headers.get('cache-control'), 'public, max-age=31536000, immutable');
  const body = Buffer.from(await res.arrayBuffer());
  assert.deepEqual(body, await fs.readFile(join(publicDir, 'assets', js)));
  assert.equal(res.headers.get('content-length'), String(body.length));

  const head = await fetch(`${base}/assets/${css}`, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('content-type'), 'text/css; charset=utf-8');
  assert.equal(head.headers.get('content-length'), String((await fs.stat(join(publicDir, 'assets', css))).size));
  assert.equal(await head.text(), '');

  const index = await fetch(`${base}/`);
  assert.equal(index.headers.get('content-type'), 'text/html; charset=utf-8');
  assert.equal(index.headers.get('cache-control'), 'no-cache');
  assert.equal(await index.text(), await fs.readFile(join(publicDir, 'index.html'), 'utf8'));
});

test('client-side routes fall back to index.html; missing files with an extension or under /assets stay 404', async (t) => {
  const { base } = await startWeb(t);
  const html = await fs.readFile(join(publicDir, 'index.html'), 'utf8');
  for (const path of ['/tracks/42', '/settings/profile?tab=1', '/index.html']) {
    const res = await fetch(base + path);
    assert.equal(res.status, 200, path);
    assert.equal(await res.text(), html, path);
  }
  for (const path of ['/assets/missing.js', '/assets/nothing', '/logo.png', '/app.js']) {
    const res = await fetch(base + path);
    assert.equal(res.status, 404, path);
    await res.body?.cancel();
  }
});

test('path traversal is refused in every spelling, and symlinks cannot lead outside the public dir', async (t) => {
  const dir = join(work, 'linked');
  await fs.cp(publicDir, dir, { recursive: true });
  await fs.symlink('/etc', join(dir, 'etc-link'));
  await fs.symlink('/etc/passwd', join(dir, 'assets', 'passwd.js'));
  const { port } = await startWeb(t, dir);
  for (const path of ['/../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/assets/..%2f..%2f..%2fetc%2fpasswd', '/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd', '/..%5c..%5cetc%5cpasswd', '/%00', '/%E0%A4%A']) {
    const res = await rawGet(port, path);
    assert.equal(res.status, 400, path);
    assert.doesNotMatch(res.body, /root:/);
  }
  for (const path of ['/etc-link/passwd', '/assets/passwd.js']) {
    const res = await rawGet(port, path);
    assert.equal(res.status, 404, path);
    assert.doesNotMatch(res.body, /root:/);
  }
});

test('serve.ts starts on PORT with the built public dir, logs one line, and exits 0 on SIGTERM', async (t) => {
  const entry = startEntry(t, 'apps/veza-web/server/serve.ts', { PORT: '0', PUBLIC_DIR: publicDir, VEZA_RELEASE_SHA: RELEASE, VEZA_COLOR: 'blue', VEZA_ENV: 'local' });
  const [line, port] = await entry.waitFor(/^veza-web start listen=127\.0\.0\.1:(\d+) .*$/m);
  assert.equal(line, `veza-web start listen=127.0.0.1:${port} release=${RELEASE} color=blue env=local`);
  // A keep-alive connection left open must not hold up the shutdown.
  await new Promise<void>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: Number(port), path: '/status.json', agent: new Agent({ keepAlive: true }) }, (res) => {
      res.resume().on('end', resolve);
    });
    req.on('error', reject).end();
  });
  entry.child.kill('SIGTERM');
  const done = await entry.exited;
  assert.equal(done.code, 0);
  assert.equal(done.stdout, `${line}\nveza-web stop signal=SIGTERM\n`);
});

test('serve.ts without a built public dir exits 1 with one line saying what to do', async () => {
  const r = await runEntry('apps/veza-web/server/serve.ts', [], { PORT: '0', PUBLIC_DIR: join(work, 'nope') });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^veza-web: no index\.html in \S+nope — run server\.js from an unpacked veza-web artifact [^\n]+\n$/);
});
