import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { z } from 'zod';
import { VezaError } from '../log/errors';
import { redact } from '../log/redact';
import type { Logger } from '../log/logger';
import { httpStream, type Dispatcher } from '../util/http';
import type { Registry } from './port';
import { coordsLabel, immutabilityError, validateCoords, validateSha256, type ArtifactCoords } from './coords';
import { saveVerified, sourceSize } from './verified-file';
import { withRetries, type RetryPolicy } from './retry';

export interface ForgejoRegistryConfig {
  /** The instance's package root, e.g. https://git.example/api/packages */
  baseUrl: string;
  token: string;
  /** Name of the variable the token came from: what error messages point at. */
  tokenEnv: string;
  /** The environment file, for hints about fixing configuration. */
  envFile: string;
  retry: RetryPolicy;
  log?: Logger;
}

const API_PACKAGES = '/api/packages';
const MAX_REDIRECTS = 5;

/**
 * Splits a package base URL into the generic-registry base and the instance
 * root the REST API hangs from (`https://h/sub/api/packages` → `https://h/sub`),
 * refusing URLs that would leak the token: embedded credentials, or plain
 * http to anything but loopback.
 */
export function parseForgejoBase(raw: string, envFile: string): { base: string; apiRoot: string } {
  const bad = (why: string, hint: string) => new VezaError(`${envFile}: registry.url ${why}`, hint, 'BAD_CONFIG');
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw bad(`${JSON.stringify(raw)} is not a URL`, 'use https://<forgejo host>/api/packages');
  }
  if (u.username || u.password) throw bad('embeds credentials', 'remove them; the token comes from the variable named by registry.tokenEnv');
  if (u.search || u.hash) throw bad(`${u.origin}${u.pathname} has a query or fragment`, 'use the bare package root, e.g. https://git.example/api/packages');
  if (u.protocol === 'http:' && !isLoopback(u.hostname)) {
    throw bad(`uses plain http to ${u.host}, which would send the token in clear`, 'use https:// (plain http is accepted for loopback test servers only)');
  }
  const path = u.pathname.replace(/\/+$/, '');
  if (!path.endsWith(API_PACKAGES)) {
    throw bad(`${u.origin}${u.pathname} does not end in ${API_PACKAGES}`, `use the instance's package root, e.g. https://git.example${API_PACKAGES}; the owner goes in registry.owner`);
  }
  return { base: u.origin + path, apiRoot: u.origin + path.slice(0, -API_PACKAGES.length) };
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

// Forgejo's structs.PackageFile: `name` and `sha256` are tagged lower-case;
// its size goes out as `Size` (an untagged field), which we do not need.
const filesListing = z.array(z.object({ name: z.string(), sha256: z.string() }));

/**
 * Forgejo's generic package registry: `PUT {base}/{owner}/generic/{package}/{version}/{file}`
 * with `Authorization: token …`. A 409 is resolved by comparing sha256 through
 * `GET {root}/api/v1/packages/{owner}/generic/{package}/{version}/files`.
 * 5xx answers and dropped connections are retried; since a retried PUT whose
 * first try did land answers 409 with our own sha256, retries stay idempotent.
 */
export function createForgejoRegistry(cfg: ForgejoRegistryConfig): Registry {
  const { base, apiRoot } = parseForgejoBase(cfg.baseUrl, cfg.envFile);
  const host = new URL(base).host;
  const authHeader = { authorization: `token ${cfg.token}` };
  const seg = encodeURIComponent;
  const fileUrl = (c: ArtifactCoords) => `${base}/${seg(c.owner)}/generic/${seg(c.package)}/${seg(c.version)}/${seg(c.file)}`;
  const filesUrl = (c: ArtifactCoords) => `${apiRoot}/api/v1/packages/${seg(c.owner)}/generic/${seg(c.package)}/${seg(c.version)}/files`;
  const unavailable = `the registry at ${host} is unreachable or failing; check it is up, then re-run (publishing is idempotent)`;

  // The token goes only to Forgejo's own package routes. A redirect anywhere else gets none, even on the same
  // origin: object storage (SERVE_DIRECT) refuses a request that carries an Authorization header beside its
  // signed query, and its 400 would read as a bad package name.
  const trusted = (url: string) => url.startsWith(`${base}/`) || url.startsWith(`${apiRoot}/api/v1/packages/`);
  const ownerIn = (url: string) => decodeURIComponent(url.slice(url.startsWith(`${base}/`) ? base.length + 1 : apiRoot.length + '/api/v1/packages/'.length).split('/')[0]!);

  /**
   * One request, redirects followed here (never by undici, which cannot tell where the token may go).
   * Forgejo answers 307 to the same route under an owner's new name after a rename; an upload follows
   * only that kind (307/308 to Forgejo itself), with a fresh body.
   */
  async function send(c: ArtifactCoords, url: string, opts: { method: 'GET' | 'PUT'; headers: Record<string, string>; body?: () => Readable }) {
    let current = url;
    for (let hop = 0; ; hop++) {
      const body = opts.body?.();
      let res: Dispatcher.ResponseData;
      try {
        res = await httpStream(current, { method: opts.method, headers: { ...opts.headers, ...(trusted(current) ? authHeader : {}) }, body });
      } finally {
        body?.destroy();
      }
      const location = res.headers.location;
      if (res.statusCode < 300 || res.statusCode >= 400 || typeof location !== 'string' || hop === MAX_REDIRECTS) return res;
      const next = new URL(location, current).href;
      if (opts.method === 'PUT' && !((res.statusCode === 307 || res.statusCode === 308) && trusted(next))) return res;
      await res.body.dump();
      if (trusted(current) && trusted(next) && ownerIn(next).toLowerCase() !== c.owner.toLowerCase()) {
        cfg.log?.warn(`registry owner "${c.owner}" was renamed to "${ownerIn(next)}" on ${host}; following Forgejo's redirect — set registry.owner: ${ownerIn(next)} in ${cfg.envFile}`);
      }
      current = next;
    }
  }

  /** The error for a status that retrying will not change. */
  async function refusal(res: Dispatcher.ResponseData, action: 'upload' | 'download' | 'listing', c: ArtifactCoords, size?: number): Promise<VezaError> {
    const status = res.statusCode;
    const said = await bodySnippet(res);
    const what = `${action} of ${coordsLabel(c)}`;
    const scope = action === 'upload' ? 'write:package' : 'read:package';
    switch (status) {
      case 400:
        return new VezaError(`registry rejected the ${what} as invalid (400): ${said}`, 'check the package name, version and file name', 'REGISTRY_REFUSED');
      case 401:
        return new VezaError(
          `registry at ${host} refused authentication for the ${what} (401 Unauthorized): the token in ${cfg.tokenEnv} is invalid, expired, or lacks the ${scope} scope`,
          `create a Forgejo access token with the ${scope} scope for a user who can ${action === 'upload' ? 'write' : 'read'} packages of "${c.owner}", and put it in ${cfg.tokenEnv}`,
          'REGISTRY_AUTH',
        );
      case 403:
        return new VezaError(
          `registry at ${host} forbade the ${what} (403 Forbidden): ${said}`,
          `Forgejo answers 403 when a package limit is hit ([packages] LIMIT_SIZE_GENERIC or the owner's size/count limits) or when the token in ${cfg.tokenEnv} lacks permission on "${c.owner}" (e.g. a public-only token); the message above names which`,
          'REGISTRY_FORBIDDEN',
        );
      case 404:
        return action === 'upload'
          ? new VezaError(`registry owner "${c.owner}" does not exist on ${host} (404 on ${what})`, `create the user or organisation "${c.owner}" in Forgejo, or fix registry.owner in ${cfg.envFile}`, 'REGISTRY_NO_OWNER')
          : new VezaError(`artifact ${coordsLabel(c)} is not in the registry at ${host} (404)`, `publish it first (npx nx run ${c.package}:publish --env=…), or check registry.owner in ${cfg.envFile}`, 'ARTIFACT_NOT_FOUND');
      case 413:
        return new VezaError(
          `${coordsLabel(c)}${size !== undefined ? ` (${size} bytes)` : ''} is too large for the registry at ${host} (413 Request Entity Too Large): ${said}`,
          "raise the server's maximum request size (the reverse proxy's body limit, e.g. nginx client_max_body_size) or, when Forgejo answers enforcePackagesQuota, the owner's Forgejo quota; or ship a smaller artifact",
          'REGISTRY_TOO_LARGE',
        );
      case 301:
      case 302:
      case 303:
      case 307:
      case 308:
        return new VezaError(
          `registry at ${host} redirected the ${what} to ${String(res.headers.location)} (${status}), which is not one of its package routes`,
          `an upload goes only to ${base} with the token; point registry.url in ${cfg.envFile} at the instance's own package root`,
          'REGISTRY_REFUSED',
        );
      default:
        return new VezaError(`registry at ${host} answered ${status} to the ${what}: ${said}`, `check the registry at ${host} and registry settings in ${cfg.envFile}`, 'REGISTRY_REFUSED');
    }
  }

  async function listedSha(c: ArtifactCoords): Promise<string | undefined> {
    return withRetries(`listing ${coordsLabel(c)}`, cfg.retry, cfg.log, unavailable, async () => {
      const res = await send(c, filesUrl(c), { method: 'GET', headers: { accept: 'application/json' } });
      if (res.statusCode >= 500) return { retry: await statusReason(res) };
      if (res.statusCode === 404) {
        await res.body.dump();
        return { done: undefined };
      }
      if (res.statusCode !== 200) throw await refusal(res, 'listing', c);
      const parsed = filesListing.safeParse(await res.body.json().catch(() => undefined));
      if (!parsed.success) {
        throw new VezaError(`registry at ${host} returned an unexpected file listing for ${coordsLabel(c)}`, `check that ${apiRoot} is a Forgejo instance`, 'REGISTRY_PROTOCOL');
      }
      // Forgejo matches file names case-insensitively, so a 409 may name a file listed in another case.
      return { done: parsed.data.find((f) => f.name.toLowerCase() === c.file.toLowerCase())?.sha256.toLowerCase() };
    });
  }

  return {
    kind: 'forgejo',
    allowsLocalVersions: false,
    describe: () => `forgejo ${base} (token from $${cfg.tokenEnv})`,

    async remoteSha256(c) {
      return listedSha(validateCoords(c, false));
    },

    async upload(c, localPath, sha256) {
      validateCoords(c, false);
      validateSha256(sha256, coordsLabel(c));
      const size = await sourceSize(localPath);
      const outcome = await withRetries(`upload of ${coordsLabel(c)}`, cfg.retry, cfg.log, unavailable, async () => {
        // A fresh stream per request: a body half-sent on a dropped connection cannot be replayed.
        const res = await send(c, fileUrl(c), {
          method: 'PUT',
          headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
          body: () => createReadStream(localPath),
        });
        if (res.statusCode === 201 || res.statusCode === 200) {
          await res.body.dump();
          return { done: 'created' as const };
        }
        if (res.statusCode === 409) {
          await res.body.dump();
          return { done: 'conflict' as const };
        }
        if (res.statusCode >= 500) return { retry: await statusReason(res) };
        throw await refusal(res, 'upload', c, size);
      });
      if (outcome === 'created') return 'created';
      const published = await listedSha(c);
      if (!published) {
        throw new VezaError(`registry at ${host} reported ${coordsLabel(c)} as a duplicate (409) but does not list it`, 'look at the package in the Forgejo UI; a concurrent delete may be in progress — re-run publish', 'REGISTRY_PROTOCOL');
      }
      if (published !== sha256) throw immutabilityError(c, published, sha256);
      return 'exists';
    },

    async download(c, destPath, expectedSha256) {
      validateCoords(c, false);
      validateSha256(expectedSha256, coordsLabel(c));
      await withRetries(`download of ${coordsLabel(c)}`, cfg.retry, cfg.log, unavailable, async () => {
        const res = await send(c, fileUrl(c), { method: 'GET', headers: {} });
        if (res.statusCode >= 500) return { retry: await statusReason(res) };
        if (res.statusCode !== 200) throw await refusal(res, 'download', c);
        await saveVerified(res.body, destPath, expectedSha256, `download of ${coordsLabel(c)}`);
        return { done: undefined };
      });
    },
  };
}

async function statusReason(res: Dispatcher.ResponseData): Promise<string> {
  const said = await bodySnippet(res);
  return `${res.statusCode}${said ? ` ${said}` : ''}`;
}

/** The start of an error body as one plain line: enough to name the cause, bounded, and redacted. */
async function bodySnippet(res: Dispatcher.ResponseData): Promise<string> {
  let text = '';
  try {
    for await (const chunk of res.body) {
      text += Buffer.from(chunk as Uint8Array).toString('utf8');
      if (text.length >= 2048) break;
    }
  } catch {
    // A body cut short still says what it managed to.
  } finally {
    res.body.destroy();
  }
  return redact(text.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 200));
}
