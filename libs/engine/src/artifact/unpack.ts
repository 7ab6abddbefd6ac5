import { createHash, type Hash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { decompress } from '@mongodb-js/zstd';
import { VezaError } from '../log/errors';
import { Extractor } from './extract';
import { SHA256, sha256File } from './manifest';
import { mapOrdered } from './ordered';
import { tarEntries } from './tar-entries';
import { DEFAULT_MAX_FRAME_BYTES, zstdFrames } from './zstd-frames';

/**
 * Safe unpack of an artifact into a directory that must not exist yet.
 *
 * The file's sha256 is checked before anything is written; extraction then
 * goes to a temp directory beside `dest`, hashing the bytes it actually
 * reads, and is renamed into place only if that second hash matches too, so
 * a file swapped between the two reads is caught. Any failure removes the
 * temp directory: `dest` either appears complete or not at all.
 *
 * Memory: the file is read in 1 MiB slices; zstd frames are decompressed
 * whole, at most two at a time — 4 MiB each for archives made by `veza
 * package`, and at most `maxFrameBytes` compressed for a foreign archive
 * (a single-frame `zstd` CLI archive is held whole, so the cap applies).
 */
export interface UnpackOptions {
  file: string;
  /** Expected sha256 (64 lower-case hex), from the package or release manifest. */
  sha256: string;
  dest: string;
  maxFrameBytes?: number;
}

export interface UnpackResult {
  size: number;
  fileCount: number;
}

export async function unpackArtifact(o: UnpackOptions): Promise<UnpackResult> {
  if (!SHA256.test(o.sha256)) {
    throw new VezaError(`invalid expected sha256 ${JSON.stringify(o.sha256)}`, 'pass the 64-hex sha256 from the package manifest', 'INVALID_INPUT');
  }
  if (await exists(o.dest)) {
    throw new VezaError(`${o.dest} already exists`, 'unpack into a new directory; remove the old one first if it is stale', 'UNPACK_DEST_EXISTS');
  }
  const checked = await sha256File(o.file);
  if (checked.sha256 !== o.sha256) {
    throw new VezaError(`${o.file}: sha256 ${checked.sha256} (${checked.size} bytes) differs from the expected ${o.sha256}`,
      'the artifact is corrupt, truncated or not the one the manifest names; fetch it again from the registry', 'ARTIFACT_SHA_MISMATCH');
  }

  const parent = dirname(o.dest);
  await fs.mkdir(parent, { recursive: true });
  const tmp = await fs.mkdtemp(join(parent, `.${basename(o.dest)}.unpack-`));
  const stream = createReadStream(o.file, { highWaterMark: 1024 * 1024 });
  try {
    const hash = createHash('sha256');
    const tarBytes = mapOrdered(zstdFrames(hashed(stream, hash), o.file, o.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES), (frame) => inflate(frame, o.file), 2);
    const extractor = new Extractor(tmp, o.file);
    // tarEntries reads tarBytes to its end, past the end-of-archive marker, so the hash covers every byte.
    for await (const entry of tarEntries(tarBytes, o.file)) await extractor.add(entry);
    if (hash.digest('hex') !== o.sha256) {
      throw new VezaError(`${o.file} changed while it was being unpacked`, 'make sure nothing rewrites the artifact during a deploy, then retry', 'ARTIFACT_SHA_MISMATCH');
    }
    extractor.finish();
    await fs.chmod(tmp, 0o755);
    await fs.rename(tmp, o.dest);
    return { size: checked.size, fileCount: extractor.fileCount };
  } catch (e) {
    await fs.rm(tmp, { recursive: true, force: true });
    if (e instanceof VezaError) throw e;
    throw new VezaError(`unpacking ${o.file} into ${o.dest} failed: ${(e as Error).message}`, 'check free disk space and permissions, then retry', 'UNPACK_FAILED');
  } finally {
    stream.destroy();
  }
}

async function* hashed(source: AsyncIterable<Buffer>, hash: Hash): AsyncGenerator<Buffer> {
  for await (const chunk of source) {
    hash.update(chunk);
    yield chunk;
  }
}

async function inflate(frame: Buffer, label: string): Promise<Buffer> {
  try {
    return await decompress(frame);
  } catch (e) {
    throw new VezaError(`${label}: a zstd frame does not decompress (${(e as Error).message})`, 'the artifact is damaged; fetch or build it again', 'ARTIFACT_CORRUPT');
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await fs.lstat(path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}
