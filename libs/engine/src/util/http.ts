import { request } from 'node:http';

/**
 * One bounded HTTP GET, the only way the engine itself talks HTTP (the
 * public URL, a local slot's health path). The address connected to and the
 * Host header are separate, so a public URL is checked through the edge's
 * own listening address even where its host name (veza.localhost) does not
 * resolve, and no agent or keep-alive outlives the call.
 */
export interface HttpRequest {
  host: string;
  port: number;
  path: string;
  /** Host header; defaults to host:port. */
  hostHeader?: string;
  /** Source address to connect from (the edge's own address, for probes "from the edge"). */
  localAddress?: string;
  timeoutMs: number;
}

export interface HttpResponse {
  status: number;
  body: string;
}

/** Bodies are read up to this size: status documents are small, and a runaway response must not fill memory. */
const MAX_BODY = 64 * 1024;

export function httpGet(req: HttpRequest): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const r = request(
      {
        host: req.host,
        port: req.port,
        path: req.path,
        method: 'GET',
        agent: false,
        localAddress: req.localAddress,
        headers: { host: req.hostHeader ?? `${req.host}:${req.port}`, connection: 'close', accept: 'application/json, */*' },
        timeout: req.timeoutMs,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          if (body.length < MAX_BODY) body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: body.slice(0, MAX_BODY) }));
        res.on('error', reject);
      },
    );
    // The socket timeout only fires on inactivity; the overall deadline bounds a slow trickle too.
    const deadline = setTimeout(() => r.destroy(new Error(`no complete answer within ${req.timeoutMs} ms`)), req.timeoutMs);
    r.on('close', () => clearTimeout(deadline));
    r.on('timeout', () => r.destroy(new Error(`timed out after ${req.timeoutMs} ms`)));
    r.on('error', reject);
    r.end();
  });
}

export function describeTarget(req: Pick<HttpRequest, 'host' | 'port' | 'path' | 'hostHeader'>): string {
  return req.hostHeader ? `http://${req.hostHeader}${req.path} (via ${req.host}:${req.port})` : `http://${req.host}:${req.port}${req.path}`;
}
