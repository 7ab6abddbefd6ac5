import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, promises as fs, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Helpers shared by the local driver and data tier tests; not used at run time. */

interface TestContext {
  after(fn: () => unknown): void;
}

export interface TempWorkspace {
  dir: string;
  /** Registers a cleanup (stop processes, …) that runs before the directory is removed, last registered first. */
  defer(fn: () => unknown): void;
}

/**
 * A throw-away workspace root, removed after the test whatever its outcome,
 * once the deferred cleanups have stopped what runs from it. World-traversable,
 * because the postgres OS user must reach the data directory below it when
 * the tests run as root.
 */
export async function tempWorkspace(t: TestContext, label: string): Promise<TempWorkspace> {
  const dir = await fs.mkdtemp(join(tmpdir(), `veza-${label}-`));
  await fs.chmod(dir, 0o755);
  const cleanups: (() => unknown)[] = [];
  t.after(async () => {
    const errors: unknown[] = [];
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch (e) {
        errors.push(e);
      }
    }
    await fs.rm(dir, { recursive: true, force: true });
    if (errors.length > 0) throw errors[0];
  });
  return { dir, defer: (fn) => cleanups.push(fn) };
}

/**
 * A tiny node:http server: `/` answers ok, `/env` shows what the process sees,
 * `/crash` exits with code 3. With IGNORE_TERM=1 it ignores SIGTERM, so stop()
 * has to escalate.
 */
const SERVER_JS = `
const http = require('node:http');
const server = http.createServer((req, res) => {
  if (req.url === '/env') {
    res.end(JSON.stringify({ pid: process.pid, cwd: process.cwd(), secret: process.env.SECRET_TOKEN, release: process.env.VEZA_RELEASE_SHA, quoted: process.env.QUOTED, inherited: process.env.VEZA_TEST_LEAK ?? null }));
    return;
  }
  if (req.url === '/crash') {
    res.end('bye');
    setImmediate(() => process.exit(3));
    return;
  }
  res.end('ok');
});
server.listen(Number(process.env.PORT), process.env.HOST);
process.on('SIGTERM', () => {
  if (process.env.IGNORE_TERM === '1') return;
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
`;

/** Builds the server artifact with the system tar and zstd, independently of the engine's own packer. */
export function buildServerArtifact(dir: string): { path: string; sha256: string } {
  const src = join(dir, 'artifact-src');
  mkdirSync(src, { recursive: true });
  writeFileSync(join(src, 'server.js'), SERVER_JS);
  const path = join(dir, 'server.tar.zst');
  execFileSync('tar', ['--zstd', '-cf', path, '-C', src, '.']);
  return { path, sha256: createHash('sha256').update(readFileSync(path)).digest('hex') };
}

export function httpGet(url: string, timeoutMs = 2_000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, headers: { connection: 'close' }, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** Retries `fn` until it returns a value (not undefined) or throws no more, at most `tries` times. */
export async function eventually<T>(fn: () => Promise<T | undefined> | T | undefined, tries = 100, intervalMs = 50): Promise<T> {
  let last: unknown;
  for (let i = 0; i < tries; i++) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
      last = new Error('condition not met');
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw last;
}

/**
 * Subtests that build on one another against one live setup: after a
 * failure the rest are skipped rather than each waiting out its timeouts.
 */
export function chainedSteps(t: { test(name: string, opts: { skip?: string | false }, fn: () => Promise<void>): Promise<void> }): (name: string, fn: () => Promise<void>) => Promise<void> {
  let broken = false;
  return (name, fn) => t.test(name, { skip: broken && 'an earlier step failed' }, async () => {
    try {
      await fn();
    } catch (e) {
      broken = true;
      throw e;
    }
  });
}
