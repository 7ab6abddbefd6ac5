import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { compress } from '@mongodb-js/zstd';
import { VezaError } from '../log/errors';
import { fsyncDir } from '../util/atomic';
import { writeAll } from './io';
import { compressInOrder } from './compress-in-order';
import { ChunkPool, tarChunks } from './tar-chunks';
import { listTree } from './tree';

/**
 * Packs a directory into a deterministic `.tar.zst`: the same tree content
 * gives the same bytes whatever its mtimes, owners, umask or readdir order.
 *
 * Memory stays bounded whatever the tree size: the tar stream is cut into
 * fixed-size chunks, each compressed as an independent zstd frame (a
 * concatenation of frames is a valid zstd stream), with at most
 * `concurrency` chunks compressing on the libuv pool while this thread
 * reads the next chunks and hashes the finished frames in order; the writes
 * go to the pool too. (Hashing on a worker thread was tried: the copies to
 * it and its isolate cost more CPU and RSS than it saved.)
 */
export interface PackOptions {
  chunkSize?: number;
  /** Chunks compressing at once. */
  concurrency?: number;
  /** Chunks started whose frame is not hashed and written yet (bounds memory). */
  held?: number;
  /** Bytes written between background flushes to disk. */
  flushBytes?: number;
}

export interface PackResult {
  sha256: string;
  size: number;
  /** Regular files and symlinks (directories not counted). */
  fileCount: number;
}

// One compression per core, up to 3: libuv's pool has 4 threads by default, and
// the writes and flushes need one. More compressions than cores cost more CPU for
// the same bytes (4 at once on 2 cores: +20 %).
const COMPRESSIONS = Math.max(1, Math.min(availableParallelism(), 3));

// Tuned with bench/pack-bench.ts on 2 cores: 4 MiB frames come out ~1% larger than
// one `zstd -3` stream (1 MiB frames: ~3%) and were no slower. `held` lets frames
// wait for this thread's hash while the next chunks compress; each one more raises
// peak RSS (1 GiB tree: 162 MiB at 3, 187 at 4, 194 at 6).
// The artifact is fsynced before its rename: flushing it as it grows (in the
// background, on the pool) leaves ~10 ms for that fsync instead of ~150 ms.
const PACK_DEFAULTS = {
  chunkSize: 4 * 1024 * 1024,
  concurrency: COMPRESSIONS,
  held: COMPRESSIONS + 2,
  flushBytes: 32 * 1024 * 1024,
} as const;

// Hashing a 4 MiB frame takes ~10 ms here (no SHA instructions), longer than an
// incompressible chunk takes to compress: in slices, this thread gets back to the
// event loop between them and refills a finished compression's slot sooner.
const HASH_SLICE = 1024 * 1024;

// The level `tar | zstd -3` uses. The published 1.2.2 binary of the binding ignores the argument
// and always compresses at its default, which is this same level; it is passed for the day it does not.
const ZSTD_LEVEL = 3;

export async function packDirectory(srcDir: string, outFile: string, opts: PackOptions = {}): Promise<PackResult> {
  const { chunkSize, concurrency, held, flushBytes } = { ...PACK_DEFAULTS, ...opts };
  const entries = await listTree(srcDir);
  const dir = dirname(outFile);
  await fs.mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${basename(outFile)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fh = await fs.open(tmp, 'wx', 0o644);
  const out = new FrameSink(fh, flushBytes);
  try {
    try {
      // Compressing, read ahead, and the one tarChunks is filling.
      const pool = new ChunkPool(chunkSize, concurrency + 2);
      await compressInOrder(tarChunks(srcDir, entries, pool), async (chunk) => {
        const frame = await compress(chunk, ZSTD_LEVEL);
        pool.give(chunk);
        return frame;
      }, (frame) => out.add(frame), { parallel: concurrency, held });
      await out.finish();
    } finally {
      await fh.close();
    }
    await fs.rename(tmp, outFile);
    await fsyncDir(dirname(outFile));
  } catch (e) {
    await fs.rm(tmp, { force: true });
    if (e instanceof VezaError) throw e;
    throw new VezaError(`packing ${srcDir} into ${outFile} failed: ${(e as Error).message}`, 'check free disk space and permissions on the output folder, then package again', 'PACK_FAILED');
  }
  return { sha256: out.hash.digest('hex'), size: out.size, fileCount: entries.filter((e) => e.kind !== 'dir').length };
}

/** Appends frames to the artifact's temp file, hashing them and flushing them to disk as they come. */
class FrameSink {
  readonly hash = createHash('sha256');
  size = 0;
  private unflushed = 0;
  private flushing = false;
  // Chained, so a failed background flush stays failed and finish() reports it.
  private flushed = Promise.resolve();

  constructor(private readonly fh: FileHandle, private readonly flushBytes: number) {}

  async add(frame: Buffer): Promise<void> {
    // The write runs on the pool while this thread hashes the same bytes.
    const written = writeAll(this.fh, frame);
    // Awaited below; this only keeps a failure during the hash from being reported as unhandled.
    written.catch(() => undefined);
    for (let off = 0; off < frame.length; off += HASH_SLICE) {
      if (off > 0) await new Promise(setImmediate);
      this.hash.update(frame.subarray(off, off + HASH_SLICE));
    }
    await written;
    this.size += frame.length;
    this.unflushed += frame.length;
    if (this.unflushed >= this.flushBytes && !this.flushing) {
      this.unflushed = 0;
      this.flushing = true;
      this.flushed = this.flushed.then(() => this.fh.datasync()).finally(() => {
        this.flushing = false;
      });
      this.flushed.catch(() => undefined);
    }
  }

  async finish(): Promise<void> {
    await this.flushed;
    await this.fh.sync();
  }
}
