import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { environmentSchema, type Environment } from '../../config/environment';
import { isVezaError } from '../../log/errors';

/** Test helpers shared by the registry tests. */

export const TOKEN_ENV = 'VEZA_TEST_REGISTRY_TOKEN';
/** Unique per run, so a match in any output can only be a leak. */
export const TOKEN = `tok-${randomBytes(16).toString('hex')}`;
export const READ_ONLY_TOKEN = `ro-${randomBytes(16).toString('hex')}`;
export const FAST_RETRY = { attempts: 4, baseDelayMs: 1, maxDelayMs: 4 };

export async function tempDir(t: { after(fn: () => Promise<void>): void }, prefix = 'veza-registry-'): Promise<string> {
  const dir = await fs.mkdtemp(join(tmpdir(), prefix));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Random bytes on disk (incompressible, larger than one stream chunk) and their sha256. */
export async function artifactFile(dir: string, name: string, size = 300 * 1024): Promise<{ path: string; sha256: string; data: Buffer }> {
  const data = randomBytes(size);
  const path = join(dir, name);
  await fs.writeFile(path, data);
  return { path, sha256: sha256(data), data };
}

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export function forgejoEnvironment(registryUrl: string, name = 'remote'): Environment {
  return environmentSchema.parse({
    name,
    driver: 'incus',
    prefix: `veza-${name}-`,
    publicHosts: [`${name}.example`],
    publicUrl: `https://${name}.example`,
    edge: 'test-edge',
    registry: { url: registryUrl, owner: 'veza', tokenEnv: TOKEN_ENV },
  });
}

/** Every file under `dir`, relative, recursively (empty when `dir` is absent). */
export async function listFiles(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath ?? e.path, e.name).slice(dir.length + 1)).sort();
}

/** The VezaError a promise rejects with, as its code and its one-line rendering. */
export async function rejection(p: Promise<unknown>): Promise<{ code: string; line: string }> {
  try {
    await p;
  } catch (e) {
    assert.ok(isVezaError(e), `expected a VezaError, got ${String(e)}`);
    return { code: e.code, line: e.toLine() };
  }
  assert.fail('expected a rejection');
}
