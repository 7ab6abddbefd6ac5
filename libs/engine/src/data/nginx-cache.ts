import { VezaError } from '../log/errors';

/**
 * The edge cache in front of MinIO (seed 001): nginx's proxy cache with
 * HLS segments cached 7 d in 1 MiB slices (a range request at any offset
 * hits the slice that holds it), playlists 60 s, `X-Cache-Status` on every
 * answer, stale content served on upstream errors, one background refresh
 * and one upstream request per missing entry (lock), and stub_status on
 * loopback. The key never holds Authorization or Cookie, so one user's
 * request can never make another's key. A whole nginx.conf for a process
 * of its own (`nginx -p <prefix> -c <file>`); the driver runs `nginx -t` on
 * it before every apply.
 */
export interface NginxCacheSpec {
  listen: { host: string; port: number };
  /** MinIO's nodes: one pool, idle connections kept (seed: keepalive 32). */
  upstream: { host: string; port: number }[];
  /** Worker user, given when the master runs as root (nginx ignores it otherwise). */
  user?: string;
  /** stub_status, reachable from loopback only. */
  status: { host: string; port: number };
  /** Absolute folders and files of this instance. */
  cacheDir: string;
  tempDir: string;
  pidFile: string;
  errorLog: string;
  /** One line per answer in CACHE_LOG_FORMAT: what infra-data:status counts its hit ratio from. */
  accessLog: string;
  /** e.g. 1g */
  maxSize: string;
}

/** Time, cache status, HTTP status, seconds spent: one line per answer (sliced answers once, not per slice). */
export const CACHE_LOG_FORMAT = '$msec $veza_cache_status $status $request_time';

/** Answered from the cache (STALE: the origin failed or is being refreshed and the cached copy was served). */
const FROM_CACHE = new Set(['HIT', 'STALE', 'UPDATING', 'REVALIDATED']);

export interface CacheCounts {
  /** Answers by X-Cache-Status. */
  byStatus: Record<string, number>;
  /** Answers that looked the cache up (BYPASS excluded). */
  lookups: number;
  fromCache: number;
  /** fromCache / lookups; undefined before the first lookup. */
  hitRatio?: number;
}

export interface CacheStatus {
  url: string;
  running: boolean;
  /** From stub_status; absent when it does not answer. */
  connections?: { active: number; requests: number };
  /** From the access log since the cache first started. */
  counts: CacheCounts;
  /** Bytes on disk under the cache folder. */
  diskBytes: number;
}

/** Counts the access log written in CACHE_LOG_FORMAT; a line of another shape is skipped. */
export function readCacheLog(text: string): CacheCounts {
  const byStatus: Record<string, number> = {};
  let lookups = 0;
  let fromCache = 0;
  for (const line of text.split('\n')) {
    const status = /^\d+\.\d+ ([A-Z]+) \d{3} /.exec(line)?.[1];
    if (!status) continue;
    byStatus[status] = (byStatus[status] ?? 0) + 1;
    if (status === 'BYPASS') continue;
    lookups++;
    if (FROM_CACHE.has(status)) fromCache++;
  }
  return { byStatus, lookups, fromCache, ...(lookups ? { hitRatio: fromCache / lookups } : {}) };
}

/** stub_status's answer (`Active connections: N` then accepts, handled, requests). */
export function readStubStatus(text: string): { active: number; requests: number } | undefined {
  const m = /^Active connections: (\d+)\s*\nserver accepts handled requests\n\s*\d+ \d+ (\d+)/.exec(text);
  return m ? { active: Number(m[1]), requests: Number(m[2]) } : undefined;
}

const PATHLIKE = /^\/[A-Za-z0-9._/-]+$/;

function checked(spec: NginxCacheSpec): NginxCacheSpec {
  for (const [k, v] of Object.entries({ cacheDir: spec.cacheDir, tempDir: spec.tempDir, pidFile: spec.pidFile, errorLog: spec.errorLog, accessLog: spec.accessLog })) {
    if (!PATHLIKE.test(v)) throw new VezaError(`nginx cache ${k} ${JSON.stringify(v)} is not a plain absolute path`, 'use a path of letters, digits, ".", "_", "-" and "/"', 'INVALID_INPUT');
  }
  if (!/^\d+[kmg]$/.test(spec.maxSize)) throw new VezaError(`nginx cache size ${JSON.stringify(spec.maxSize)} is not a size`, 'use e.g. 1g or 512m', 'INVALID_INPUT');
  return spec;
}

export function renderNginxCache(input: NginxCacheSpec): string {
  const s = checked(input);
  if (!s.upstream.length) throw new VezaError('the nginx cache has no upstream', 'name at least one MinIO node', 'INVALID_INPUT');
  if (s.user !== undefined && !/^[a-z_][a-z0-9_-]*$/.test(s.user)) throw new VezaError(`nginx user ${JSON.stringify(s.user)} is not a user name`, 'use a plain user name', 'INVALID_INPUT');
  const upstream = 'http://veza_minio';
  // Shared by both cached locations: what the seed asks of every cached answer.
  const common = [
    'proxy_cache veza_media;',
    'proxy_http_version 1.1;',
    'proxy_set_header Connection "";',
    'proxy_cache_use_stale error timeout updating http_500 http_502 http_503 http_504;',
    'proxy_cache_background_update on;',
    'proxy_cache_lock on;',
    'proxy_cache_lock_timeout 10s;',
    'proxy_ignore_headers Set-Cookie;',
    'proxy_hide_header Set-Cookie;',
    // A HEAD turned into a GET would no longer match its S3 signature: HEADs go through uncached.
    'proxy_cache_convert_head off;',
    'proxy_cache_bypass $veza_not_get;',
    'proxy_no_cache $veza_not_get;',
  ];
  // S3 signs the Host header: MinIO must see the one the client signed (the cache's), whatever location answers.
  const host = 'proxy_set_header Host $http_host;';
  const block = (lines: string[], indent: string) => lines.map((l) => `${indent}${l}`).join('\n');
  return `# written by veza: the media cache in front of MinIO
${s.user ? `user ${s.user};\n` : ''}worker_processes 1;
pid ${s.pidFile};
error_log ${s.errorLog} warn;
events { worker_connections 512; }
http {
    # Not cached at all (no status of nginx's own): say so rather than leave the header out.
    map $upstream_cache_status $veza_cache_status { "" BYPASS; default $upstream_cache_status; }
    map $request_method $veza_not_get { GET ""; default 1; }
    log_format veza_cache '${CACHE_LOG_FORMAT}';
    access_log ${s.accessLog} veza_cache;
    client_body_temp_path ${s.tempDir}/body;
    proxy_temp_path ${s.tempDir}/proxy;
    fastcgi_temp_path ${s.tempDir}/fastcgi;
    uwsgi_temp_path ${s.tempDir}/uwsgi;
    scgi_temp_path ${s.tempDir}/scgi;
    upstream veza_minio {
${s.upstream.map((u) => `        server ${u.host}:${u.port};`).join('\n')}
        keepalive 32;
    }
    proxy_cache_path ${s.cacheDir} levels=1:2 keys_zone=veza_media:10m max_size=${s.maxSize} inactive=7d use_temp_path=off;

    server {
        listen ${s.listen.host}:${s.listen.port};
        # On every answer, cached or not (always: errors too).
        add_header X-Cache-Status $veza_cache_status always;
        # Apps upload through the cache too (seed: S3_ENDPOINT names it): any size, streamed.
        client_max_body_size 0;
        proxy_request_buffering off;

        # HLS segments: 1 MiB slices, each cached 7 d under a key without Authorization or Cookie.
        location ~ \\.(ts|m4s|mp4|aac)$ {
            slice 1m;
            proxy_cache_key $scheme$proxy_host$uri$slice_range;
            proxy_set_header Range $slice_range;
            ${host}
            proxy_cache_valid 200 206 7d;
${block(common, '            ')}
            proxy_pass ${upstream};
        }

        # Playlists change while a stream is live: 60 s.
        location ~ \\.m3u8$ {
            proxy_cache_key $scheme$proxy_host$uri;
            proxy_cache_valid 200 60s;
            ${host}
${block(common, '            ')}
            proxy_pass ${upstream};
        }

        location / {
            ${host}
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass ${upstream};
        }
    }

    server {
        listen ${s.status.host}:${s.status.port};
        access_log off;
        location = /nginx_status {
            stub_status;
            allow 127.0.0.0/8;
            deny all;
        }
    }
}
`;
}
