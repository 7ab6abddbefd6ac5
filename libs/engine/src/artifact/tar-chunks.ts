import { closeSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { VezaError } from '../log/errors';
import { BLOCK, encodeHeader, padding } from './tar-header';
import type { TreeEntry } from './tree';

/**
 * Recycles chunk buffers once their compression is done: fresh multi-MiB
 * buffers would cost a page fault per 4 KiB and grow the heap with every
 * chunk, which showed up as CPU and RSS in the pack benchmark.
 */
export class ChunkPool {
  private readonly free: Buffer[] = [];

  constructor(readonly chunkSize: number, private readonly keep: number) {}

  take(): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafeSlow(this.chunkSize);
  }

  /** Only whole chunks come back; the short last one is left to the GC. */
  give(buf: Buffer): void {
    if (buf.length === this.chunkSize && this.free.length < this.keep) this.free.push(buf);
  }
}

/**
 * Writes the tar stream of `entries` into fixed-size chunks, reading file
 * content straight into the chunk (no intermediate copies). A yielded chunk
 * belongs to the consumer, which may still be compressing it while the next
 * one fills, and hands it back to the pool when done. Every chunk but the
 * last is `chunkSize` long, so the cut points, and with them the compressed
 * frames, depend only on the content.
 *
 * Reads are synchronous on purpose: the libuv pool is busy compressing, and
 * async reads (three pool round trips per small file) queued behind those
 * jobs starved them of input — the benchmark ran markedly slower that way.
 * Being a plain generator also lets the packer pull the next chunk from a
 * compression's completion callback without a trip through the microtask queue.
 */
export function* tarChunks(root: string, entries: TreeEntry[], pool: ChunkPool): Generator<Buffer> {
  const chunkSize = pool.chunkSize;
  let buf = pool.take();
  let pos = 0;
  // Advances past `n` bytes just written at `pos`; returns the chunk when it is full.
  const advance = (n: number): Buffer | null => {
    pos += n;
    if (pos < chunkSize) return null;
    const full = buf;
    buf = pool.take();
    pos = 0;
    return full;
  };
  function* put(bytes: Buffer): Generator<Buffer> {
    for (let off = 0; off < bytes.length;) {
      const n = bytes.copy(buf, pos, off);
      off += n;
      const full = advance(n);
      if (full) yield full;
    }
  }
  function* zeros(count: number): Generator<Buffer> {
    for (let left = count; left > 0;) {
      const n = Math.min(left, chunkSize - pos);
      buf.fill(0, pos, pos + n);
      left -= n;
      const full = advance(n);
      if (full) yield full;
    }
  }

  for (const e of entries) {
    yield* put(encodeHeader({ name: e.name, kind: e.kind, mode: e.mode, size: e.size, linkname: e.target }));
    if (e.kind !== 'file' || e.size === 0) continue;
    const abs = join(root, e.rel);
    let fd: number;
    try {
      fd = openSync(abs, 'r');
    } catch (err) {
      throw new VezaError(`cannot read ${abs}: ${(err as Error).message}`, 'check the build output is readable and not being rewritten, then package again', 'PACK_SOURCE_UNREADABLE');
    }
    try {
      for (let left = e.size; left > 0;) {
        const bytesRead = readSync(fd, buf, pos, Math.min(left, chunkSize - pos), null);
        if (bytesRead === 0) {
          throw new VezaError(`${abs} shrank while it was being packed`, 'wait for the build to finish writing, then package again', 'PACK_SOURCE_CHANGED');
        }
        left -= bytesRead;
        const full = advance(bytesRead);
        if (full) yield full;
      }
    } finally {
      closeSync(fd);
    }
    yield* zeros(padding(e.size));
  }
  yield* zeros(2 * BLOCK);
  if (pos > 0) yield buf.subarray(0, pos);
}
