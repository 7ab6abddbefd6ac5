import { stringify } from 'yaml';
import { VezaError } from '../log/errors';
import type { Command } from '../ports/process';

/**
 * Synthetic journeys (seed 594204fb86): Prometheus' blackbox exporter probes
 * what a user reaches through the environment's public URL, every 5 minutes.
 * The seed's search and marketplace journeys have no counterpart in our
 * components, so they became the web app shell and the stream server's
 * status envelope; its WebSocket check does a real upgrade handshake instead
 * of a bare TCP connect.
 */

export const MODULES = ['http_2xx', 'http_status_envelope', 'http_web_app', 'http_playlist', 'tcp_websocket'] as const;
export type BlackboxModule = (typeof MODULES)[number];

export interface Journey {
  journey: string;
  module: BlackboxModule;
  /** A URL for http modules, host:port for tcp ones. */
  target: string;
}

/** A fixed track id: the stream server answers a playlist for any valid id. */
const PROBE_TRACK = 'synthetic-probe';
const WS_PATH = '/api/v1/ws';

/** The public URL as an http(s) base, or a clear refusal. */
export function publicBase(publicUrl: string): URL {
  let url: URL;
  try {
    url = new URL(publicUrl);
  } catch {
    throw new VezaError(`blackbox target ${JSON.stringify(publicUrl)} is not a URL`, 'set publicUrl in the environment file to the http(s) URL users reach, e.g. https://veza.fr', 'INVALID_INPUT');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new VezaError(`blackbox target ${publicUrl} is not an http(s) URL`, 'set publicUrl to an http:// or https:// URL', 'INVALID_INPUT');
  }
  if (url.search || url.hash || url.username) {
    throw new VezaError(`blackbox target ${publicUrl} carries a query, fragment or credentials`, 'set publicUrl to the bare site URL', 'INVALID_INPUT');
  }
  return url;
}

function hostPort(url: URL): string {
  return `${url.hostname}:${url.port || (url.protocol === 'https:' ? '443' : '80')}`;
}

export function journeys(publicUrl: string): Journey[] {
  const base = publicBase(publicUrl);
  const at = (path: string) => new URL(path, base).toString();
  return [
    { journey: 'api_health', module: 'http_2xx', target: at('/api/v1/health') },
    { journey: 'api_status', module: 'http_status_envelope', target: at('/api/v1/status') },
    { journey: 'web_app', module: 'http_web_app', target: at('/') },
    { journey: 'stream_status', module: 'http_status_envelope', target: at('/stream/status') },
    { journey: 'websocket', module: 'tcp_websocket', target: hostPort(base) },
    { journey: 'stream_playlist', module: 'http_playlist', target: at(`/tracks/${PROBE_TRACK}/index.m3u8`) },
  ];
}

/** blackbox.yml for one environment (the WebSocket handshake names its host). */
export function renderBlackboxConfig(publicUrl: string): string {
  const base = publicBase(publicUrl);
  const http = (body: string[]) => ({
    prober: 'http',
    timeout: '10s',
    http: { valid_status_codes: [200], method: 'GET', preferred_ip_protocol: 'ip4', fail_if_body_not_matches_regexp: body },
  });
  const handshake = [`GET ${WS_PATH} HTTP/1.1`, `Host: ${base.host}`, 'Upgrade: websocket', 'Connection: Upgrade',
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version: 13', '', ''].join('\r\n');
  const modules: Record<BlackboxModule, unknown> = {
    http_2xx: http(['"status":"ok"']),
    http_status_envelope: http(['"component":"veza-[a-z]+"', '"release":"[0-9a-z-]+"']),
    http_web_app: http(['<div id="root"']),
    http_playlist: http(['^#EXTM3U']),
    tcp_websocket: {
      prober: 'tcp',
      timeout: '10s',
      tcp: {
        preferred_ip_protocol: 'ip4',
        tls: base.protocol === 'https:',
        query_response: [{ send: handshake }, { expect: '^HTTP/1\\.1 101' }],
      },
    },
  };
  return `# Written by infra-host:bootstrap for ${base.origin}; edit libs/engine/src/host/blackbox.ts instead.\n${stringify({ modules })}`;
}

/**
 * Prometheus file_sd entries: one per journey, its module as the probe's
 * `module` parameter, and the labels the alert rules select on.
 */
export function renderBlackboxTargets(env: string, publicUrl: string): string {
  const entries = journeys(publicUrl).map((j) => ({
    targets: [j.target],
    labels: { __param_module: j.module, journey: j.journey, probe_kind: 'synthetic', env },
  }));
  return stringify(entries);
}

/** Debian's package names the binary prometheus-blackbox-exporter. */
export function blackboxCheck(configFile: string): Command {
  return { argv: ['prometheus-blackbox-exporter', `--config.file=${configFile}`, '--config.check'], description: 'check the blackbox exporter config', timeoutMs: 30_000 };
}
