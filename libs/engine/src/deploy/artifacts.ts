import { promises as fs } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { sha256File } from '../artifact/manifest';
import { localEnvDir } from '../hosts/local/paths';
import { VezaError } from '../log/errors';
import { coordsLabel } from '../registry/coords';
import type { Registry } from '../registry/port';
import type { ReleaseManifest } from '../release/manifest';
import type { DeployStep } from './plan';
import { coordsOf } from './release';

/**
 * Every artifact of a release, fetched from the registry into the
 * deployer's cache and sha256-verified before any slot is touched: a
 * tampered or truncated file fails here, with nothing changed. The cache is
 * content-addressed (`<sha256>.tar.zst`), so a file already there is reused
 * once its bytes hash right, and a rollback fetches nothing. Every fetch
 * marks the release's files as used (mtime); pruneArtifactCache keeps the
 * most recently used ones, so the cache holds about the releases the history
 * remembers and no more.
 */
export interface FetchedArtifact {
  path: string;
  sha256: string;
}

export type FetchedArtifacts = Record<string, FetchedArtifact>;

/** Per environment, so the environment's deploy lock also guards its cache. */
export function artifactCacheDir(workspaceRoot: string, env: string): string {
  return join(localEnvDir(workspaceRoot, env), 'cache', 'artifacts');
}

/**
 * A file already holding an artifact's exact bytes, checked before the
 * deploy took its lock (deploy/preflight.ts): a packaged artifact in dist/,
 * or a download into a temp folder that the cache may take over (`owned`).
 */
export interface VerifiedArtifact {
  path: string;
  sha256: string;
  owned: boolean;
}

export interface FetchOptions {
  /** Dry-run: report what would be downloaded, after checking the registry holds the right bytes. */
  plan?: (step: DeployStep) => void;
  step?: (line: string) => void;
  /** Per component: bytes verified already, placed in the cache instead of downloading them again. */
  verified?: Readonly<Record<string, VerifiedArtifact>>;
}

export async function fetchArtifacts(registry: Registry, cacheDir: string, manifest: ReleaseManifest, opts: FetchOptions = {}): Promise<FetchedArtifacts> {
  if (!opts.plan) await removePartials(cacheDir);
  const out: FetchedArtifacts = {};
  for (const [component, c] of Object.entries(manifest.components).sort(([a], [b]) => a.localeCompare(b))) {
    const path = join(cacheDir, `${c.sha256}.tar.zst`);
    const label = coordsLabel(coordsOf(c));
    const verified = opts.verified?.[component];
    if (await cachedAndIntact(path, c.sha256)) {
      if (!opts.plan) await markUsed(path);
      opts.step?.(`${component}: ${label} already in the cache, sha256 verified`);
    } else if (verified?.sha256 === c.sha256) {
      if (opts.plan) opts.plan({ kind: 'cache-artifact', artifact: label, sha256: c.sha256, path, from: { checked: verified.path } });
      else await adopt(verified, path);
      opts.step?.(`${component}: ${label} placed in the cache, sha256 and entries verified`);
    } else if (opts.plan) {
      const remote = await registry.remoteSha256(coordsOf(c));
      if (remote === undefined) {
        // `infra-deploy:plan` packages but does not publish: the deploy target publishes first.
        opts.plan({ kind: 'cache-artifact', artifact: label, sha256: c.sha256, path, from: { registry: registry.describe(), size: c.size, unpublished: true } });
        out[component] = { path, sha256: c.sha256 };
        continue;
      }
      if (remote !== c.sha256) {
        throw new VezaError(`artifact ${label} in ${registry.describe()} has sha256 ${remote}, but the release says ${c.sha256}`,
          'the registry copy is corrupt or was altered; re-publish the artifact from a clean build', 'ARTIFACT_MISMATCH');
      }
      opts.plan({ kind: 'cache-artifact', artifact: label, sha256: c.sha256, path, from: { registry: registry.describe(), size: c.size } });
    } else {
      await fs.rm(path, { force: true });
      await registry.download(coordsOf(c), path, c.sha256);
      opts.step?.(`${component}: fetched ${label} (${c.size} bytes), sha256 verified`);
    }
    out[component] = { path, sha256: c.sha256 };
  }
  return out;
}

/** Into the cache through a temp name and a rename, so the cache never holds a partial file. */
async function adopt(v: VerifiedArtifact, path: string): Promise<void> {
  await fs.mkdir(dirname(path), { recursive: true });
  const part = join(dirname(path), `.${basename(path)}.${process.pid}.part`);
  try {
    if (v.owned) await fs.rename(v.path, part).catch(async (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EXDEV') throw e;
      await fs.copyFile(v.path, part);
    });
    else await fs.copyFile(v.path, part);
    await fs.rename(part, path);
  } finally {
    await fs.rm(part, { force: true });
  }
}

export async function cachedAndIntact(path: string, sha256: string): Promise<boolean> {
  try {
    await fs.access(path);
  } catch {
    return false;
  }
  return (await sha256File(path)).sha256 === sha256;
}

async function markUsed(path: string): Promise<void> {
  const now = new Date();
  await fs.utimes(path, now, now);
}

const CACHED_ARTIFACT = /^[0-9a-f]{64}\.tar\.zst$/;

/**
 * Removes all but the `keepNewest` most recently used artifacts, never one in
 * `inUse` (the release just deployed). Returns the names removed. A full
 * rollback to a release pruned here downloads its artifacts again.
 */
export async function pruneArtifactCache(cacheDir: string, inUse: readonly string[], keepNewest: number): Promise<string[]> {
  const keep = new Set(inUse.map((sha) => `${sha}.tar.zst`));
  const files = (await fs.readdir(cacheDir).catch(() => [] as string[])).filter((f) => CACHED_ARTIFACT.test(f));
  const byUse = await Promise.all(files.map(async (f) => ({ f, used: (await fs.stat(join(cacheDir, f))).mtimeMs })));
  byUse.sort((a, b) => b.used - a.used || a.f.localeCompare(b.f));
  const removed: string[] = [];
  for (const [i, { f }] of byUse.entries()) {
    if (i < keepNewest || keep.has(f)) continue;
    await fs.rm(join(cacheDir, f), { force: true });
    removed.push(f);
  }
  return removed;
}

/** Temp files of a download killed half-way; only this environment's deploy, which holds the lock, writes here. */
async function removePartials(dir: string): Promise<void> {
  for (const f of await fs.readdir(dir).catch(() => [] as string[])) {
    if (f.startsWith('.') && f.endsWith('.part')) await fs.rm(join(dir, f), { force: true });
  }
}
