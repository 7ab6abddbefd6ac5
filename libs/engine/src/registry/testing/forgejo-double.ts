import { createServer, type IncomingMessage } from 'node:http';
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { ArtifactCoords } from '../coords';

/**
 * A test double of Forgejo's generic package registry: a real HTTP server on
 * 127.0.0.1 that answers the way Forgejo v11 does (the forgejo.org module
 * line), read against its routers/api/packages/api.go (verifyAuth,
 * reqPackageAccess, enforcePackagesQuota and the generic routes),
 * services/packages/generic/upload.go (name rules), routers/api/v1/api.go
 * (the files listing), services/context's user assignment (renamed owners)
 * and tests/integration/api_packages_generic_test.go:
 *
 *   every route  401 "authGroup.Verify" for an unknown token, before the owner is
 *                looked up (an unknown token is an error, not anonymity); owners,
 *                package names, versions and file names match case-insensitively;
 *                a renamed owner answers 307 to the same path under its new name.
 *   PUT  /api/packages/{owner}/generic/{package}/{version}/{file}
 *        404 unknown owner; 401 "reqPackageAccess" + WWW-Authenticate without a
 *        token with write:package; 413 "enforcePackagesQuota" over quota (the
 *        body is the middleware's name: Forgejo's ctx.Error writes its first
 *        argument); 400 invalid name, version or file name; 403 "maximum
 *        allowed package type size exceeded" above LIMIT_SIZE_GENERIC; 409 when
 *        the file exists; else 201.
 *   GET  same path: the bytes, or 404; with serveDirect, 303 to object storage
 *        (on the same origin here), which refuses a second auth mechanism (an
 *        Authorization header beside its signed query) with 400.
 *   HEAD, DELETE and any other method: 405, empty body (chi's answer for a
 *        method the route does not register; Forgejo does route DELETE, which
 *        the pipeline never sends, so the double refuses it to keep it so).
 *   GET  /api/v1/packages/{owner}/generic/{package}/{version}/files
 *        public owners answer without a token; 403 for a token without a package
 *        scope; 404 unknown owner or version; else a JSON array of PackageFile
 *        {id, Size, name, md5, sha1, sha256, sha512} — `Size` capitalised, as
 *        Forgejo's untagged struct field serialises.
 *
 * Every owner is public. Two things production has in front of Forgejo are
 * modelled too: a reverse proxy body limit (413 before Forgejo reads
 * anything) and failures injected with failNext() (500/502, a dropped
 * connection, a truncated download) for retry tests. Uploads live in memory:
 * it is a test double.
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
  /** Old owner name → current name, as Forgejo keeps after a rename. */
  renamedOwners?: Record<string, string>;
  /** [storage] SERVE_DIRECT: downloads redirect to signed object-storage URLs. */
  serveDirect?: boolean;
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
  /** Stores a file directly, as if published earlier, under the names as given. */
  seed(c: ArtifactCoords, data: Uint8Array): void;
  /** The bytes stored for these coordinates, matched as Forgejo matches them (case-insensitively). */
  stored(c: ArtifactCoords): Buffer | undefined;
  close(): Promise<void>;
}

interface StoredFile {
  id: number;
  /** The file name as first uploaded; listings show it so. */
  name: string;
  data: Buffer;
}

const FILE_PATH = /^\/api\/packages\/([^/]+)\/generic\/([^/]+)\/([^/]+)\/([^/]+)$/;
const LIST_PATH = /^\/api\/v1\/packages\/([^/]+)\/generic\/([^/]+)\/([^/]+)\/files$/;
const STORAGE_PATH = /^\/storage\/packages\/(\d+)$/;
// services/packages/generic/upload.go, as Go's \w (ASCII word characters) reads them.
const PACKAGE_NAME = /^[-_+.\w]+$/;
const FILE_NAME = /^[-_+=:;.()[\]{}~!@#$%^& \w]+$/;

function isValidPackageName(name: string): boolean {
  if (name.length === 1 && !/^[\p{L}\p{N}]$/u.test(name)) return false;
  return PACKAGE_NAME.test(name) && name !== '..';
}

function isValidFileName(name: string): boolean {
  return FILE_NAME.test(name) && name.trim() === name && name !== '.' && name !== '..';
}

export async function startForgejoDouble(opts: ForgejoDoubleOptions = {}): Promise<ForgejoDouble> {
  const owners = new Set((opts.owners ?? ['veza']).map(lower));
  const renamed = new Map(Object.entries(opts.renamedOwners ?? {}).map(([from, to]) => [lower(from), to]));
  const tokens = new Map(Object.entries(opts.tokens ?? {}));
  const overQuota = new Set((opts.overQuota ?? []).map(lower));
  const files = new Map<string, StoredFile>();
  const requests: RecordedRequest[] = [];
  const faults: Fault[] = [];
  let nextId = 1;

  // Forgejo keeps lower_name columns and looks every name up through them.
  const versionKey = (owner: string, pkg: string, version: string) => [owner, pkg, version].map(lower).join('/');
  const fileKey = (owner: string, pkg: string, version: string, file: string) => `${versionKey(owner, pkg, version)}/${lower(file)}`;

  const server = createServer((req, res) => {
    // The path as sent: Go's server hands chi `.` and `..` segments unfolded, so the name rules see them.
    const [rawPath = '/', query] = (req.url ?? '/').split('?', 2);
    const path = decodeURI(rawPath);
    const method = req.method ?? '';
    const record = (status: number | 'dropped') => requests.push({ method, path, status, authorized: req.headers.authorization !== undefined });
    const reply = (status: number, body: string | Buffer, headers: Record<string, string> = {}) => {
      record(status);
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': String(Buffer.byteLength(body)), ...headers });
      res.end(body);
    };
    // Go's http.Error, which Forgejo's ctx.Error calls with its first string argument.
    const httpError = (status: number, text: string, headers: Record<string, string> = {}) => reply(status, `${text}\n`, { 'x-content-type-options': 'nosniff', ...headers });
    const replyJson = (status: number, value: unknown) => reply(status, JSON.stringify(value), { 'content-type': 'application/json;charset=utf-8' });
    const drop = () => {
      record('dropped');
      req.socket.destroy();
    };
    /** UserAssignment: the owner, a 307 to its new name, or undefined after a 404. */
    const assignOwner = (owner: string, notFound: () => void): string | undefined => {
      if (owners.has(lower(owner))) return owner;
      const to = renamed.get(lower(owner));
      if (to === undefined) return void notFound();
      const segments = rawPath.split('/');
      segments[path.startsWith('/api/v1/') ? 4 : 3] = encodeURIComponent(to);
      return void reply(307, '', { location: segments.join('/') + (query === undefined ? '' : `?${query}`) });
    };

    const fault = faults.shift();
    if (fault === 500 || fault === 502) return reply(fault, fault === 502 ? '<html><body><h1>502 Bad Gateway</h1></body></html>' : 'internal server error');
    if (fault === 'drop') return drop();

    const storageMatch = STORAGE_PATH.exec(rawPath);
    if (storageMatch && method === 'GET') {
      const stored = [...files.values()].find((f) => f.id === Number(storageMatch[1]));
      if (req.headers.authorization !== undefined) {
        return reply(400, '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InvalidArgument</Code><Message>Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified</Message></Error>', { 'content-type': 'application/xml' });
      }
      return stored ? reply(200, stored.data, { 'content-type': 'application/octet-stream' }) : reply(404, 'NoSuchKey');
    }

    const auth = authenticate(req, tokens);
    // Matched on the raw path and decoded per segment, so an encoded '/' stays inside its name.
    const fileMatch = FILE_PATH.exec(rawPath)?.map(decodeURIComponent);
    const listMatch = LIST_PATH.exec(rawPath)?.map(decodeURIComponent);

    if (fileMatch) {
      const [, ownerParam, pkg, version, file] = fileMatch as unknown as [string, string, string, string, string];
      if (method === 'PUT') {
        const length = Number(req.headers['content-length'] ?? NaN);
        if (opts.proxyMaxBodySize !== undefined && length > opts.proxyMaxBodySize) {
          return reply(413, '<html>\r\n<head><title>413 Request Entity Too Large</title></head>\r\n<body>\r\n<center><h1>413 Request Entity Too Large</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n', { 'content-type': 'text/html', connection: 'close' });
        }
      }
      if (auth === 'invalid') return httpError(401, 'authGroup.Verify');
      if (method !== 'GET' && method !== 'PUT') {
        record(405);
        return void res.writeHead(405).end();
      }
      const owner = assignOwner(ownerParam, () => httpError(404, 'user does not exist'));
      if (owner === undefined) return;
      if (method === 'PUT') {
        if (!auth?.includes('write:package')) {
          return httpError(401, 'reqPackageAccess', { 'www-authenticate': 'Basic realm="Gitea Package API"' });
        }
        if (overQuota.has(lower(owner))) return httpError(413, 'enforcePackagesQuota');
        return void readBody(req).then((body) => {
          if (!isValidPackageName(pkg)) return reply(400, 'package name is invalid');
          if (!isValidFileName(file)) return reply(400, 'package filename is invalid');
          if (version.trim() !== version) return reply(400, 'package version is invalid');
          if (opts.limitSizeGeneric !== undefined && body.length > opts.limitSizeGeneric) return reply(403, 'maximum allowed package type size exceeded');
          const k = fileKey(owner, pkg, version, file);
          if (files.has(k)) return reply(409, 'package file already exists');
          files.set(k, { id: nextId++, name: file, data: body });
          if (fault === 'drop-after-store') return drop();
          return reply(201, '');
        }, () => drop());
      }
      const stored = files.get(fileKey(owner, pkg, version, file));
      if (!stored) return reply(404, 'package file does not exist');
      if (opts.serveDirect) {
        return reply(303, '', { location: `/storage/packages/${stored.id}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=${'0'.repeat(64)}` });
      }
      if (fault === 'truncate') {
        record(200);
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(stored.data.length) });
        res.write(stored.data.subarray(0, Math.floor(stored.data.length / 2)));
        return void setImmediate(() => req.socket.destroy());
      }
      return reply(200, stored.data, { 'content-type': 'application/octet-stream' });
    }

    if (listMatch && method === 'GET') {
      const [, ownerParam, pkg, version] = listMatch as unknown as [string, string, string, string];
      if (auth === 'invalid') return replyJson(401, { message: 'user does not exist [uid: 0, name: ]', url: '' });
      if (auth && auth.length === 0) return replyJson(403, { message: 'token does not have at least one of required scope(s): [read:package]', url: '' });
      const owner = assignOwner(ownerParam, () => replyJson(404, { message: 'GetUserByName', url: '' }));
      if (owner === undefined) return;
      const prefix = `${versionKey(owner, pkg, version)}/`;
      const listed = [...files].filter(([k]) => k.startsWith(prefix));
      if (listed.length === 0) return replyJson(404, { message: 'package does not exist', url: '' });
      return replyJson(200, listed.map(([, f]) => ({ id: f.id, Size: f.data.length, name: f.name, ...digests(f.data) })));
    }

    if (auth === 'invalid') return httpError(401, 'authGroup.Verify');
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
      files.set(fileKey(c.owner, c.package, c.version, c.file), { id: nextId++, name: c.file, data: Buffer.from(data) });
    },
    stored(c) {
      return files.get(fileKey(c.owner, c.package, c.version, c.file))?.data;
    },
    close() {
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

function lower(s: string): string {
  return s.toLowerCase();
}

/**
 * undefined: anonymous (no token); 'invalid': a token Forgejo does not know, which its auth
 * group reports as an error; else the token's scopes.
 */
function authenticate(req: IncomingMessage, tokens: Map<string, readonly TokenScope[]>): readonly TokenScope[] | 'invalid' | undefined {
  const m = /^(?:token|bearer)\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  if (!m) return undefined;
  return tokens.get(m[1]!) ?? 'invalid';
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
