import { createServer, type IncomingMessage } from 'node:http';
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { ArtifactCoords } from '../coords';

/**
 * A test double of Forgejo's generic package registry: a real HTTP server on
 * 127.0.0.1 that answers the way Forgejo does, checked against Forgejo's
 * routers/api/packages/api.go (auth and routing), .../generic/generic.go,
 * .../helper/helper.go (status codes), routers/api/v1/api.go (the files
 * listing) and modules/structs/package.go (the listing's JSON):
 *
 *   PUT  /api/packages/{owner}/generic/{package}/{version}/{file}
 *        404 unknown owner (checked before auth); 401 + WWW-Authenticate without
 *        a token, with an unknown token, or with a token lacking write:package
 *        (Forgejo answers 401, not 403, for a missing scope); 413 "quota
 *        exceeded" when the owner is over quota; 400 invalid name/version;
 *        403 "maximum allowed package type size exceeded" above
 *        LIMIT_SIZE_GENERIC; 409 when the file exists; else 201.
 *   GET  same path: the bytes, or 404. Public owners: no token needed.
 *   GET  /api/v1/packages/{owner}/generic/{package}/{version}/files
 *        401 without a valid token, 403 without a package scope, 404 unknown
 *        owner or version; else a JSON array of PackageFile
 *        {id, Size, name, md5, sha1, sha256, sha512} — `Size` capitalised, as
 *        Forgejo's untagged struct field serialises.
 *
 * Two things production has in front of Forgejo are modelled too: a reverse
 * proxy body limit (413 before Forgejo reads anything) and failures injected
 * with failNext() (500/502, a dropped connection, a truncated download) for
 * retry tests. Uploads live in memory: it is a test double.
 */

export type TokenScope = 'read:package' | 'write:package';
export type Fault = 500 | 502 | 'drop' | 'drop-after-store' | 'truncate';

export interface ForgejoDoubleOptions {
  owners?: string[];
  tokens?: Record<string, readonly TokenScope[]>;
  /** Forgejo's [packages] LIMIT_SIZE_GENERIC: larger uploads get 403. */
  limitSizeGeneric?: number;
  /** A reverse proxy's body limit (nginx client_max_body_size): larger requests get 413. */
  proxyMaxBodySize?: number;
  /** Owners over their Forgejo quota: uploads get 413. */
  overQuota?: string[];
}

export interface RecordedRequest {
  method: string;
  path: string;
  status: number | 'dropped';
  /** Whether an Authorization header came with it (its value is never kept). */
  authorized: boolean;
}

export interface ForgejoDouble {
  /** The package root, as an environment's registry.url: http://127.0.0.1:<port>/api/packages */
  readonly baseUrl: string;
  readonly requests: RecordedRequest[];
  /** The next `n` requests fail with `fault` instead of being served. */
  failNext(n: number, fault: Fault): void;
  /** Stores a file directly, as if published earlier. */
  seed(c: ArtifactCoords, data: Uint8Array): void;
  stored(c: ArtifactCoords): Buffer | undefined;
  close(): Promise<void>;
}

interface StoredFile {
  id: number;
  data: Buffer;
}

const FILE_PATH = /^\/api\/packages\/([^/]+)\/generic\/([^/]+)\/([^/]+)\/([^/]+)$/;
const LIST_PATH = /^\/api\/v1\/packages\/([^/]+)\/generic\/([^/]+)\/([^/]+)\/files$/;
// Forgejo's generic service: names and file names are [-_+.\w]+, versions any non-blank string.
const NAME = /^[-_+.\w]+$/;

export async function startForgejoDouble(opts: ForgejoDoubleOptions = {}): Promise<ForgejoDouble> {
  const owners = new Set(opts.owners ?? ['veza']);
  const tokens = new Map(Object.entries(opts.tokens ?? {}));
  const overQuota = new Set(opts.overQuota ?? []);
  const files = new Map<string, StoredFile>();
  const requests: RecordedRequest[] = [];
  const faults: Fault[] = [];
  let nextId = 1;

  const key = (owner: string, pkg: string, version: string, file: string) => `${owner}/${pkg}/${version}/${file}`;

  const server = createServer((req, res) => {
    const path = decodeURI(new URL(req.url ?? '/', 'http://x').pathname);
    const record = (status: number | 'dropped') =>
      requests.push({ method: req.method ?? '', path, status, authorized: req.headers.authorization !== undefined });
    const reply = (status: number, body: string | Buffer, headers: Record<string, string> = {}) => {
      record(status);
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': String(Buffer.byteLength(body)), ...headers });
      res.end(body);
    };
    const replyJson = (status: number, value: unknown) =>
      reply(status, JSON.stringify(value), { 'content-type': 'application/json;charset=utf-8' });
    const drop = () => {
      record('dropped');
      req.socket.destroy();
    };

    const fault = faults.shift();
    if (fault === 500 || fault === 502) return reply(fault, fault === 502 ? '<html><body><h1>502 Bad Gateway</h1></body></html>' : 'internal server error');
    if (fault === 'drop') return drop();

    const scopes = tokenScopes(req, tokens);

    const fileMatch = FILE_PATH.exec(path);
    if (fileMatch) {
      const [, owner, pkg, version, file] = fileMatch as unknown as [string, string, string, string, string];
      if (req.method === 'PUT') {
        const length = Number(req.headers['content-length'] ?? NaN);
        if (opts.proxyMaxBodySize !== undefined && length > opts.proxyMaxBodySize) {
          return reply(413, '<html>\r\n<head><title>413 Request Entity Too Large</title></head>\r\n<body>\r\n<center><h1>413 Request Entity Too Large</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n', { 'content-type': 'text/html', connection: 'close' });
        }
        if (!owners.has(owner)) return reply(404, 'user does not exist');
        if (!scopes?.includes('write:package')) {
          return reply(401, 'user should have specific permission or be a site admin', { 'www-authenticate': 'Basic realm="Gitea Package API"' });
        }
        if (overQuota.has(owner)) return reply(413, 'quota exceeded');
        return void readBody(req).then((body) => {
          if (!NAME.test(pkg) || !NAME.test(file) || version.trim() !== version || version === '') return reply(400, 'package name, version or filename is invalid');
          if (opts.limitSizeGeneric !== undefined && body.length > opts.limitSizeGeneric) return reply(403, 'maximum allowed package type size exceeded');
          const k = key(owner, pkg, version, file);
          if (files.has(k)) return reply(409, 'package file already exists');
          files.set(k, { id: nextId++, data: body });
          if (fault === 'drop-after-store') return drop();
          return reply(201, '');
        }, () => drop());
      }
      if (req.method === 'GET') {
        if (!owners.has(owner)) return reply(404, 'user does not exist');
        const stored = files.get(key(owner, pkg, version, file));
        if (!stored) return reply(404, 'package file does not exist');
        if (fault === 'truncate') {
          record(200);
          res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(stored.data.length) });
          res.write(stored.data.subarray(0, Math.floor(stored.data.length / 2)));
          return void setImmediate(() => req.socket.destroy());
        }
        return reply(200, stored.data, { 'content-type': 'application/octet-stream' });
      }
      return reply(405, 'method not allowed');
    }

    const listMatch = LIST_PATH.exec(path);
    if (listMatch && req.method === 'GET') {
      const [, owner, pkg, version] = listMatch as unknown as [string, string, string, string];
      if (!scopes) return replyJson(401, { message: 'token is required', url: '' });
      if (scopes.length === 0) return replyJson(403, { message: 'token does not have at least one of required scope(s): [read:package]', url: '' });
      if (!owners.has(owner)) return replyJson(404, { message: 'GetUserByName', url: '' });
      const prefix = key(owner, pkg, version, '');
      const listed = [...files].filter(([k]) => k.startsWith(prefix));
      if (listed.length === 0) return replyJson(404, { message: 'package does not exist', url: '' });
      return replyJson(200, listed.map(([k, f]) => ({ id: f.id, Size: f.data.length, name: k.slice(prefix.length), ...digests(f.data) })));
    }

    return reply(404, 'not found');
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    baseUrl: `http://127.0.0.1:${port}/api/packages`,
    requests,
    failNext(n, fault) {
      for (let i = 0; i < n; i++) faults.push(fault);
    },
    seed(c, data) {
      files.set(key(c.owner, c.package, c.version, c.file), { id: nextId++, data: Buffer.from(data) });
    },
    stored(c) {
      return files.get(key(c.owner, c.package, c.version, c.file))?.data;
    },
    close() {
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

/** undefined: anonymous (no or unknown token, as Forgejo treats an unknown token); else the token's scopes. */
function tokenScopes(req: IncomingMessage, tokens: Map<string, readonly TokenScope[]>): readonly TokenScope[] | undefined {
  const m = /^(?:token|bearer)\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  return m ? tokens.get(m[1]!) : undefined;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function digests(data: Buffer) {
  const h = (alg: string) => createHash(alg).update(data).digest('hex');
  return { md5: h('md5'), sha1: h('sha1'), sha256: h('sha256'), sha512: h('sha512') };
}
