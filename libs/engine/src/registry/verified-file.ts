import { createWriteStream, promises as fs } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { VezaError } from '../log/errors';
import { fsyncDir } from '../util/atomic';

/** The error for an upload source that cannot be read: a user error (re-package), not a crash. */
export function unreadableSource(path: string, e: unknown): VezaError {
  const why = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
  return new VezaError(`cannot read the artifact to upload, ${path}: ${why}`, 'package the component again', 'MISSING_ARTIFACT');
}

/** The size of a regular file about to be uploaded (it becomes the Content-Length). */
export async function sourceSize(path: string): Promise<number> {
  let st;
  try {
    st = await fs.stat(path);
  } catch (e) {
    throw unreadableSource(path, e);
  }
  if (!st.isFile()) throw unreadableSource(path, new Error('not a regular file'));
  return st.size;
}

/** A dot-prefixed name no reader looks up, unique per writer. */
export function tempPathIn(dir: string, name: string): string {
  return join(dir, `.${name}.${process.pid}.${randomBytes(4).toString('hex')}.part`);
}

export class DigestMismatchError extends Error {
  constructor(readonly expected: string, readonly actual: string, readonly size: number) {
    super(`sha256 mismatch: expected ${expected}, got ${actual} (${size} bytes)`);
  }
}

/**
 * Streams `source` into a new file at `tmpPath`, hashing on the way, and
 * fsyncs it. When the bytes do not hash to `expectedSha256`, or anything
 * fails (a dropped connection, a full disk), the temp file is removed before
 * the error propagates: a caller only ever places a complete, verified file.
 */
export async function writeVerified(source: AsyncIterable<Uint8Array>, tmpPath: string, expectedSha256: string): Promise<void> {
  const hash = createHash('sha256');
  let size = 0;
  // `flush` fsyncs before close: a rename after a crash never exposes an empty file.
  const out = createWriteStream(tmpPath, { flags: 'wx', mode: 0o644, flush: true });
  try {
    await pipeline(
      source,
      async function* (chunks: AsyncIterable<Uint8Array>) {
        for await (const chunk of chunks) {
          hash.update(chunk);
          size += chunk.length;
          yield chunk;
        }
      },
      out,
    );
    const actual = hash.digest('hex');
    if (actual !== expectedSha256) throw new DigestMismatchError(expectedSha256, actual, size);
  } catch (e) {
    // The stream opens its file asynchronously: when the source fails early,
    // the open can still be in flight and would recreate the file after an
    // immediate rm. Wait for the descriptor to be closed first.
    if (!out.closed) await new Promise<void>((resolve) => out.once('close', () => resolve()));
    await fs.rm(tmpPath, { force: true });
    throw e;
  }
}

/**
 * Writes a download to `destPath` only if its sha256 matches: temp file in the
 * same directory, verify, rename. A truncated or tampered stream leaves nothing.
 */
export async function saveVerified(source: AsyncIterable<Uint8Array>, destPath: string, expectedSha256: string, what: string): Promise<void> {
  const dir = dirname(destPath);
  await fs.mkdir(dir, { recursive: true });
  const tmp = tempPathIn(dir, basename(destPath));
  try {
    await writeVerified(source, tmp, expectedSha256);
  } catch (e) {
    if (e instanceof DigestMismatchError) {
      throw new VezaError(
        `${what} does not match its sha256 (expected ${e.expected}, got ${e.actual} over ${e.size} bytes); nothing was written to ${destPath}`,
        'the registry copy is corrupt or was altered; re-publish the artifact from a clean build, or check what sits between you and the registry',
        'ARTIFACT_MISMATCH',
      );
    }
    throw e;
  }
  try {
    await fs.rename(tmp, destPath);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw e;
  }
  await fsyncDir(dir);
}

/** Places `tmpPath` at `destPath` unless something is already there; false when it was. */
export async function linkNoClobber(tmpPath: string, destPath: string): Promise<boolean> {
  try {
    await fs.link(tmpPath, destPath);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
  await fsyncDir(dirname(destPath));
  return true;
}
