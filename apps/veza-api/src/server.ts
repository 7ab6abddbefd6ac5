import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Pool } from 'pg';
import { WebSocketServer } from 'ws';
import { latestVersion } from './migrations';
import { closeHttpServer, sendJson, type RuntimeConfig } from '@veza/component-runtime/runtime';

/** The API's own version, distinct from the release sha that built it. */
export const API_VERSION = '1.0.0';
const BASE = '/api/v1';
// Status must answer quickly when the database is down, so the deploy can still read the release.
const DB_PROBE_TIMEOUT_MS = 1500;

export interface ApiConfig extends Pick<RuntimeConfig, 'release' | 'color' | 'env'> {
  databaseUrl: string;
  /** Milliseconds clock; tests pin it to check uptime. */
  now?: () => number;
}

export interface ApiServer {
  server: Server;
  close(): Promise<void>;
}

function pathOf(req: IncomingMessage): string {
  return (req.url ?? '/').split('?')[0];
}

export function createApiServer(config: ApiConfig): ApiServer {
  const now = config.now ?? Date.now;
  const startedAt = now();
  const pool = new Pool({
    connectionString: config.databaseUrl,
    max: 2,
    connectionTimeoutMillis: DB_PROBE_TIMEOUT_MS,
    query_timeout: DB_PROBE_TIMEOUT_MS,
    idleTimeoutMillis: 10_000,
  });
  // An idle client losing its connection must not take the server down; the next probe reports it.
  pool.on('error', () => undefined);

  /**
   * Always 200: status reports what is running, and the database's state is
   * part of that report (`database: "unreachable"`, schemaVersion null) rather
   * than a reason to fail. Liveness is /health; readiness decisions read this body.
   */
  async function status(res: ServerResponse): Promise<void> {
    let database: 'ok' | 'unreachable' = 'ok';
    let schemaVersion: string | null = null;
    try {
      schemaVersion = await latestVersion(pool);
    } catch {
      database = 'unreachable';
    }
    sendJson(res, 200, {
      component: 'veza-api',
      release: config.release,
      color: config.color,
      env: config.env,
      version: API_VERSION,
      uptimeSeconds: Math.floor((now() - startedAt) / 1000),
      database,
      schemaVersion,
    });
  }

  const routes: Record<string, (res: ServerResponse) => void | Promise<void>> = {
    [`${BASE}/health`]: (res) => sendJson(res, 200, { status: 'ok' }),
    [`${BASE}/status`]: status,
    [`${BASE}/ws`]: (res) => sendJson(res, 426, { error: 'this endpoint speaks WebSocket only' }, { upgrade: 'websocket' }),
  };

  const server = createServer((req, res) => {
    const route = routes[pathOf(req)];
    if (!route) return sendJson(res, 404, { error: 'not found' });
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendJson(res, 405, { error: 'method not allowed' }, { allow: 'GET, HEAD' });
    Promise.resolve(route(res)).catch((e: Error) => {
      process.stderr.write(`veza-api: ${req.method} ${pathOf(req)} failed: ${e.message}\n`);
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
      else res.destroy();
    });
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  wss.on('connection', (ws) => {
    ws.on('error', () => ws.terminate());
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  server.on('upgrade', (req, socket, head) => {
    socket.on('error', () => socket.destroy());
    if (pathOf(req) !== `${BASE}/ws`) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });

  let closing: Promise<void> | undefined;
  const shutdown = async () => {
    // 1001 "going away" tells clients to reconnect, which lands them on the new colour.
    for (const ws of wss.clients) ws.close(1001, 'server shutting down');
    const cut = setTimeout(() => wss.clients.forEach((ws) => ws.terminate()), 1000);
    cut.unref();
    await closeHttpServer(server);
    clearTimeout(cut);
    wss.close();
    await pool.end();
  };
  return { server, close: () => (closing ??= shutdown()) };
}
