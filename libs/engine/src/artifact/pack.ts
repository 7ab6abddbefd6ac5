import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { compress } from '@mongodb-js/zstd';
import { VezaError } from '../log/errors';
import { fsyncDir } from '../util/atomic';
import { writeAll } from './io';
import { mapOrdered } from './ordered';
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
 * reads the next chunk and hashes and writes the finished frames in order.
 * (Hashing on a worker thread was tried: the copies to it and its isolate
 * cost more CPU and RSS than it saved.)
 */
export interface PackOptions {
  chunkSize?: number;
  concurrency?: number;
}

export interface PackResult {
  sha256: string;
  size: number;
  /** Regular files and symlinks (directories not counted). */
  fileCount: number;
}

// Tuned with bench/pack-bench.ts on 2 cores: 4 MiB frames come out ~1% larger than
// one `zstd -3` stream (1 MiB frames: ~3%) and were no slower; 4 chunks in flight
// keep both cores busy while this thread hashes.
export const PACK_DEFAULTS = { chunkSize: 4 * 1024 * 1024, concurrency: 4 } as const;

// The level `tar | zstd -3` uses. The published 1.2.2 binary of the binding ignores the argument
// and always compresses at its default, which is this same level; it is passed for the day it does not.
const ZSTD_LEVEL = 3;

export async function packDirectory(srcDir: string, outFile: string, opts: PackOptions = {}): Promise<PackResult> {
  const { chunkSize, concurrency } = { ...PACK_DEFAULTS, ...opts };
  const entries = await listTree(srcDir);
  const dir = dirname(outFile);
  await fs.mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${basename(outFile)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fh = await fs.open(tmp, 'wx', 0o644);
  const hash = createHash('sha256');
  let size = 0;
  try {
    try {
      const pool = new ChunkPool(chunkSize, concurrency + 1);
      const frames = mapOrdered(tarChunks(srcDir, entries, pool), async (chunk) => {
        const frame = await compress(chunk, ZSTD_LEVEL);
        pool.give(chunk);
        return frame;
      }, concurrency);
      for await (const frame of frames) {
        // The write runs on the pool while this thread hashes the same bytes.
        const written = writeAll(fh, frame);
        hash.update(frame);
        await written;
        size += frame.length;
      }
      await fh.sync();
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
  return { sha256: hash.digest('hex'), size, fileCount: entries.filter((e) => e.kind !== 'dir').length };
}
