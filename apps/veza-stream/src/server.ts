import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { etagOf, playlist, segmentBytes, segmentDurations, TRACK_ID } from './hls';
import { closeHttpServer, sendJson, type RuntimeConfig } from '@veza/component-runtime/runtime';

export interface StreamConfig extends Pick<RuntimeConfig, 'release' | 'color' | 'env'> {
  now?: () => number;
}

export interface StreamServer {
  server: Server;
  close(): Promise<void>;
}

const TRACK_PATH = /^\/tracks\/([^/]+)\/([^/]+)$/;
const SEGMENT_FILE = /^(0|[1-9][0-9]{0,3})\.ts$/;

function sendMedia(req: IncomingMessage, res: ServerResponse, body: Buffer | string, type: string, cacheControl: string): void {
  const etag = etagOf(body);
  const headers = { etag, 'cache-control': cacheControl };
  if (req.headers['if-none-match'] === etag) {
    res.writeHead(304, headers).end();
    return;
  }
  res.writeHead(200, { ...headers, 'content-type': type, 'content-length': String(Buffer.byteLength(body)) });
  res.end(body);
}

function track(req: IncomingMessage, res: ServerResponse, id: string, file: string): void {
  if (!TRACK_ID.test(id)) return sendJson(res, 400, { error: 'invalid track id: use 1-64 of A-Z a-z 0-9 _ -' });
  const durations = segmentDurations(id);
  if (file === 'index.m3u8') return sendMedia(req, res, playlist(id), 'application/vnd.apple.mpegurl', 'public, max-age=60');
  const seg = SEGMENT_FILE.exec(file);
  const n = seg ? Number(seg[1]) : -1;
  if (n < 0 || n >= durations.length) return sendJson(res, 404, { error: 'no such segment' });
  // Segment bytes never change for a given URL.
  sendMedia(req, res, segmentBytes(id, n, durations[n]), 'video/mp2t', 'public, max-age=31536000, immutable');
}

export function createStreamServer(config: StreamConfig): StreamServer {
  const now = config.now ?? Date.now;
  const startedAt = now();

  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const trackMatch = TRACK_PATH.exec(path);
    const known = trackMatch || path === '/stream/health' || path === '/stream/status';
    if (!known) return sendJson(res, 404, { error: 'not found' });
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendJson(res, 405, { error: 'method not allowed' }, { allow: 'GET, HEAD' });
    if (trackMatch) return track(req, res, trackMatch[1], trackMatch[2]);
    if (path === '/stream/health') return sendJson(res, 200, { status: 'ok' });
    sendJson(res, 200, {
      component: 'veza-stream',
      release: config.release,
      color: config.color,
      env: config.env,
      uptimeSeconds: Math.floor((now() - startedAt) / 1000),
    });
  });

  let closing: Promise<void> | undefined;
  return { server, close: () => (closing ??= closeHttpServer(server)) };
}
