import { createReadStream, promises as fs, realpathSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { extname, join, sep } from 'node:path';
import { closeHttpServer, sendJson, type RuntimeConfig } from '@veza/component-runtime/runtime';

/**
 * The static server bundled into the veza-web artifact: serves the Vite build
 * from `publicDir`, falls back to index.html for client-side routes, and
 * answers the slot's health and status probes.
 */
export interface WebConfig extends Pick<RuntimeConfig, 'release' | 'color' | 'env'> {
  publicDir: string;
}

export interface WebServer {
  server: Server;
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.avif': 'image/avif',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.wasm': 'application/wasm',
};
// Vite puts content-hashed files under /assets: a URL there never changes content.
const IMMUTABLE = 'public, max-age=31536000, immutable';

function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': String(Buffer.byteLength(text)), 'cache-control': 'no-store' });
  res.end(text);
}

type Resolved = { kind: 'file'; file: string } | { kind: 'bad' };

/**
 * Maps a request path to a file strictly inside `root`. Any `..` segment,
 * before or after percent-decoding, is refused outright rather than
 * normalised, so no spelling of a traversal reaches the file system.
 */
function resolveRequestPath(root: string, rawPath: string): Resolved {
  let decoded: string;
  try {
    decoded = decodeURIComponent(rawPath);
  } catch {
    return { kind: 'bad' };
  }
  if (!decoded.startsWith('/') || decoded.includes('\0') || decoded.includes('\\')) return { kind: 'bad' };
  if (decoded.split('/').some((s) => s === '..')) return { kind: 'bad' };
  const file = join(root, decoded);
  if (file !== root && !file.startsWith(root + sep)) return { kind: 'bad' };
  return { kind: 'file', file };
}

export function createWebServer(config: WebConfig): WebServer {
  // Real path once, so a symlinked publicDir (e.g. a `current` link) still contains its files.
  const root = realpathSync(config.publicDir);
  const indexFile = join(root, 'index.html');

  type Lookup = { kind: 'file'; file: string; size: number } | { kind: 'missing' } | { kind: 'outside' };

  /** A regular file inside root; a link that resolves outside it is reported, never followed. */
  async function lookup(file: string): Promise<Lookup> {
    try {
      let real = await fs.realpath(file);
      let st = await fs.stat(real);
      if (st.isDirectory()) {
        real = await fs.realpath(join(real, 'index.html'));
        st = await fs.stat(real);
      }
      if (!real.startsWith(root + sep)) return { kind: 'outside' };
      return st.isFile() ? { kind: 'file', file: real, size: st.size } : { kind: 'missing' };
    } catch {
      return { kind: 'missing' };
    }
  }

  function sendFile(req: IncomingMessage, res: ServerResponse, file: string, size: number, cacheControl: string): void {
    res.writeHead(200, {
      'content-type': TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream',
      'content-length': String(size),
      'cache-control': cacheControl,
      'x-content-type-options': 'nosniff',
    });
    if (req.method === 'HEAD') return void res.end();
    createReadStream(file)
      .on('error', () => res.destroy())
      .pipe(res);
  }

  async function serveStatic(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const resolved = resolveRequestPath(root, path);
    if (resolved.kind === 'bad') return sendText(res, 400, 'bad request path\n');
    const found = await lookup(resolved.file);
    if (found.kind === 'file') return sendFile(req, res, found.file, found.size, path.startsWith('/assets/') ? IMMUTABLE : 'no-cache');
    if (found.kind === 'outside') return sendText(res, 404, 'not found\n');
    // Client-side routes have no extension; a missing script or image must stay a 404, not become HTML.
    const lastSegment = path.slice(path.lastIndexOf('/') + 1);
    if (path.startsWith('/assets/') || extname(lastSegment) !== '') return sendText(res, 404, 'not found\n');
    const index = await lookup(indexFile);
    if (index.kind !== 'file') return sendText(res, 404, 'not found\n');
    sendFile(req, res, index.file, index.size, 'no-cache');
  }

  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendJson(res, 405, { error: 'method not allowed' }, { allow: 'GET, HEAD' });
    if (path === '/healthz') return sendJson(res, 200, { status: 'ok' });
    if (path === '/status.json') return sendJson(res, 200, { component: 'veza-web', release: config.release, color: config.color, env: config.env });
    serveStatic(req, res, path).catch((e: Error) => {
      process.stderr.write(`veza-web: ${req.method} ${path} failed: ${e.message}\n`);
      if (!res.headersSent) sendText(res, 500, 'internal error\n');
      else res.destroy();
    });
  });

  let closing: Promise<void> | undefined;
  return { server, close: () => (closing ??= closeHttpServer(server)) };
}
