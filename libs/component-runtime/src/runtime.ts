import type { Server, ServerResponse } from 'node:http';

/**
 * The environment contract the deploy engine gives every slot. Values are
 * checked here because a slot that starts with a malformed release or colour
 * would report it on /status and mislead the deploy's verification.
 */
export interface RuntimeConfig {
  host: string;
  port: number;
  release: string | null;
  color: 'blue' | 'green' | null;
  env: string | null;
}

export class RuntimeConfigError extends Error {}

const RELEASE = /^([0-9a-f]{40}|local-[0-9a-f]{12})$/;
const ENV_NAME = /^[a-z][a-z0-9-]{0,30}$/;
const HOST = /^[A-Za-z0-9.:-]{1,253}$/;

function optional(env: NodeJS.ProcessEnv, name: string, re: RegExp, hint: string): string | null {
  const v = env[name];
  if (v === undefined || v === '') return null;
  if (!re.test(v)) throw new RuntimeConfigError(`${name}=${JSON.stringify(v)} is invalid — ${hint}`);
  return v;
}

export function readRuntimeConfig(env: NodeJS.ProcessEnv, defaultPort: number): RuntimeConfig {
  const portText = env.PORT ?? String(defaultPort);
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
  if (!(port >= 0 && port <= 65535)) throw new RuntimeConfigError(`PORT=${JSON.stringify(portText)} is invalid — use a TCP port number 0-65535`);
  return {
    host: optional(env, 'HOST', HOST, 'use an IP address or host name') ?? '127.0.0.1',
    port,
    release: optional(env, 'VEZA_RELEASE_SHA', RELEASE, 'use a 40-hex git SHA or local-<12 hex>'),
    color: optional(env, 'VEZA_COLOR', /^(blue|green)$/, 'use blue or green') as RuntimeConfig['color'],
    env: optional(env, 'VEZA_ENV', ENV_NAME, 'use a lower-case environment name such as staging'),
  };
}

/**
 * Stops accepting, lets in-flight requests finish for a short grace period,
 * then cuts what is left, so SIGTERM never waits on an idle keep-alive client.
 */
export function closeHttpServer(server: Server, graceMs = 2000): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    const timer = setTimeout(() => server.closeAllConnections(), graceMs);
    timer.unref();
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    server.closeIdleConnections();
  });
}

export function listen(server: Server, port: number, host: string): Promise<{ host: string; port: number }> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const addr = server.address();
      if (addr === null || typeof addr === 'string') return reject(new Error('server has no TCP address'));
      resolve({ host: addr.address, port: addr.port });
    });
  });
}

/**
 * The shared `main` of a component: read the contract, listen, log one start
 * line, and exit 0 once SIGTERM/SIGINT has closed everything.
 */
export async function runComponent(
  component: string,
  defaultPort: number,
  start: (cfg: RuntimeConfig) => { server: Server; close(): Promise<void> },
): Promise<void> {
  let cfg: RuntimeConfig;
  try {
    cfg = readRuntimeConfig(process.env, defaultPort);
  } catch (e) {
    if (!(e instanceof RuntimeConfigError)) throw e;
    process.stderr.write(`${component}: ${e.message}\n`);
    process.exit(2);
  }
  const app = start(cfg);
  const addr = await listen(app.server, cfg.port, cfg.host).catch((e: Error) => {
    process.stderr.write(`${component}: cannot listen on ${cfg.host}:${cfg.port}: ${e.message} — free the port or set PORT/HOST\n`);
    process.exit(1);
  });
  process.stdout.write(`${component} start listen=${addr.host}:${addr.port} release=${cfg.release ?? 'none'} color=${cfg.color ?? 'none'} env=${cfg.env ?? 'none'}\n`);
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    app.close().then(
      () => {
        process.stdout.write(`${component} stop signal=${signal}\n`);
        process.exit(0);
      },
      (e: Error) => {
        process.stderr.write(`${component}: error while stopping: ${e.message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(text)),
    'cache-control': 'no-store',
    ...headers,
  });
  // Node drops the body of HEAD responses itself and keeps the headers.
  res.end(text);
}
