import { promises as fs } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { Client } from 'undici';

/**
 * The engine's one HTTP client, on undici: every request the pipeline makes
 * from its own process goes through this module (`npm run lint` refuses
 * undici or node:http elsewhere in the engine), so timeouts, connection reuse
 * and body limits are decided in one place.
 *
 * `httpGet` is a bounded GET for probes and verification (the public URL, a
 * slot's health path, the edge's view of a slot). The address connected to
 * and the Host header are separate, so a public URL is checked through the
 * edge's own listening address even where its host name (veza.localhost)
 * does not resolve, and no connection outlives the call.
 */
export interface HttpRequest {
  host: string;
  port: number;
  path: string;
  /** Host header; defaults to host:port. */
  hostHeader?: string;
  /** Source address to connect from (the edge's own address, for probes "from the edge"). */
  localAddress?: string;
  /** Lets a slot's log tell the edge's probes from other traffic. */
  userAgent?: string;
  timeoutMs: number;
  /** HTTPS, trusting these CA certificates (PEM) besides the system's when given. */
  tls?: { ca?: string };
}

export interface HttpResponse {
  status: number;
  body: string;
}

/** Bodies are read up to this size: status documents are small, and a runaway response must not fill memory. */
const MAX_BODY = 64 * 1024;

export async function httpGet(req: HttpRequest): Promise<HttpResponse> {
  // A client of its own per call: nothing is pooled, so no socket is left open once the answer is in.
  const client = new Client(`${req.tls ? 'https' : 'http'}://${req.host}:${req.port}`, {
    localAddress: req.localAddress,
    // Giving `ca` replaces Node's bundled roots: keep them, so an extra test CA never makes a public one untrusted.
    connect: req.tls?.ca ? { ca: [...rootCertificates, req.tls.ca] } : undefined,
  });
  // One deadline over connect, headers and body: undici's own timeouts are per phase, so a slow trickle would outlast them.
  const deadline = setTimeout(() => void client.destroy(new Error(`no complete answer within ${req.timeoutMs} ms`)), req.timeoutMs);
  try {
    const headers: Record<string, string> = { host: req.hostHeader ?? `${req.host}:${req.port}`, connection: 'close', accept: 'application/json, */*' };
    if (req.userAgent) headers['user-agent'] = req.userAgent;
    const res = await client.request({ path: req.path, method: 'GET', headers });
    res.body.setEncoding('utf8');
    let body = '';
    for await (const chunk of res.body as AsyncIterable<string>) {
      body += chunk;
      if (body.length >= MAX_BODY) break;
    }
    return { status: res.statusCode, body: body.slice(0, MAX_BODY) };
  } finally {
    clearTimeout(deadline);
    await client.destroy();
  }
}

export function describeTarget(req: Pick<HttpRequest, 'host' | 'port' | 'path' | 'hostHeader'>): string {
  return req.hostHeader ? `http://${req.hostHeader}${req.path} (via ${req.host}:${req.port})` : `http://${req.host}:${req.port}${req.path}`;
}

/**
 * The registry's transfers: streamed bodies both ways, and redirects the
 * caller follows itself (only it knows where the token may go), so undici's
 * request is handed through as it is.
 */
export { request as httpStream, type Dispatcher } from 'undici';

/**
 * The edge's HTTP-01 responder: serves the files of one directory at its
 * root (the edge strips /.well-known/acme-challenge/ before it proxies), GET
 * only. A name outside the ACME token alphabet is a 404 without touching the
 * disk, so nothing but tokens is ever readable through it.
 */
export interface DirectoryServer {
  close(): Promise<void>;
}

const TOKEN = /^\/([A-Za-z0-9_-]{1,128})$/;

export async function serveDirectory(dir: string, host: string, port: number): Promise<DirectoryServer> {
  const server = createServer((req, res) => {
    const m = TOKEN.exec(req.url ?? '');
    if (req.method !== 'GET' || !m) {
      res.writeHead(404).end();
      return;
    }
    fs.readFile(join(dir, m[1]!)).then(
      (body) => res.writeHead(200, { 'content-type': 'text/plain' }).end(body),
      () => res.writeHead(404).end(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  return {
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
