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
  upstream: { host: string; port: number };
  /** stub_status, reachable from loopback only. */
  status: { host: string; port: number };
  /** Absolute folders and files of this instance. */
  cacheDir: string;
  tempDir: string;
  pidFile: string;
  errorLog: string;
  /** e.g. 1g */
  maxSize: string;
}

const PATHLIKE = /^\/[A-Za-z0-9._/-]+$/;

function checked(spec: NginxCacheSpec): NginxCacheSpec {
  for (const [k, v] of Object.entries({ cacheDir: spec.cacheDir, tempDir: spec.tempDir, pidFile: spec.pidFile, errorLog: spec.errorLog })) {
    if (!PATHLIKE.test(v)) throw new VezaError(`nginx cache ${k} ${JSON.stringify(v)} is not a plain absolute path`, 'use a path of letters, digits, ".", "_", "-" and "/"', 'INVALID_INPUT');
  }
  if (!/^\d+[kmg]$/.test(spec.maxSize)) throw new VezaError(`nginx cache size ${JSON.stringify(spec.maxSize)} is not a size`, 'use e.g. 1g or 512m', 'INVALID_INPUT');
  return spec;
}

export function renderNginxCache(input: NginxCacheSpec): string {
  const s = checked(input);
  const upstream = `http://${s.upstream.host}:${s.upstream.port}`;
  // Shared by both cached locations: what the seed asks of every cached answer.
  const common = [
    'proxy_cache veza_media;',
    'proxy_http_version 1.1;',
    'proxy_cache_use_stale error timeout updating http_500 http_502 http_503 http_504;',
    'proxy_cache_background_update on;',
    'proxy_cache_lock on;',
    'proxy_cache_lock_timeout 10s;',
    'proxy_ignore_headers Set-Cookie;',
    'proxy_hide_header Set-Cookie;',
  ];
  const block = (lines: string[], indent: string) => lines.map((l) => `${indent}${l}`).join('\n');
  return `# written by veza: the media cache in front of MinIO
worker_processes 1;
pid ${s.pidFile};
error_log ${s.errorLog} warn;
events { worker_connections 512; }
http {
    access_log off;
    # Not cached at all (no status of nginx's own): say so rather than leave the header out.
    map $upstream_cache_status $veza_cache_status { "" BYPASS; default $upstream_cache_status; }
    client_body_temp_path ${s.tempDir}/body;
    proxy_temp_path ${s.tempDir}/proxy;
    fastcgi_temp_path ${s.tempDir}/fastcgi;
    uwsgi_temp_path ${s.tempDir}/uwsgi;
    scgi_temp_path ${s.tempDir}/scgi;
    proxy_cache_path ${s.cacheDir} levels=1:2 keys_zone=veza_media:10m max_size=${s.maxSize} inactive=7d use_temp_path=off;

    server {
        listen ${s.listen.host}:${s.listen.port};
        # On every answer, cached or not (always: errors too).
        add_header X-Cache-Status $veza_cache_status always;

        # HLS segments: 1 MiB slices, each cached 7 d under a key without Authorization or Cookie.
        location ~ \\.(ts|m4s|mp4|aac)$ {
            slice 1m;
            proxy_cache_key $scheme$proxy_host$uri$slice_range;
            proxy_set_header Range $slice_range;
            proxy_cache_valid 200 206 7d;
${block(common, '            ')}
            proxy_pass ${upstream};
        }

        # Playlists change while a stream is live: 60 s.
        location ~ \\.m3u8$ {
            proxy_cache_key $scheme$proxy_host$uri;
            proxy_cache_valid 200 60s;
${block(common, '            ')}
            proxy_pass ${upstream};
        }

        location / {
            proxy_pass ${upstream};
        }
    }

    server {
        listen ${s.status.host}:${s.status.port};
        location = /nginx_status {
            stub_status;
            allow 127.0.0.0/8;
            deny all;
        }
    }
}
`;
}
