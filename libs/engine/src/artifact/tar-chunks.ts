import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { VezaError } from '../log/errors';
import { BLOCK, encodeHeader, padding } from './tar-header';
import type { TreeEntry } from './tree';

/**
 * Writes the tar stream of `entries` into fixed-size chunks, reading file
 * content straight into the chunk (no intermediate copies). Each chunk is a
 * fresh buffer handed over to the consumer, which may still be compressing
 * it while the next one fills. Every chunk but the last is `chunkSize` long,
 * so the cut points, and with them the compressed frames, depend only on
 * the content.
 */
export async function* tarChunks(root: string, entries: TreeEntry[], chunkSize: number): AsyncGenerator<Buffer> {
  let buf = Buffer.allocUnsafe(chunkSize);
  let pos = 0;
  // Advances past `n` bytes just written at `pos`; returns the chunk when it is full.
  const advance = (n: number): Buffer | null => {
    pos += n;
    if (pos < chunkSize) return null;
    const full = buf;
    buf = Buffer.allocUnsafe(chunkSize);
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
    const fh = await fs.open(abs, 'r').catch((err: Error) => {
      throw new VezaError(`cannot read ${abs}: ${err.message}`, 'check the build output is readable and not being rewritten, then package again', 'PACK_SOURCE_UNREADABLE');
    });
    try {
      for (let left = e.size; left > 0;) {
        const { bytesRead } = await fh.read(buf, pos, Math.min(left, chunkSize - pos), null);
        if (bytesRead === 0) {
          throw new VezaError(`${abs} shrank while it was being packed`, 'wait for the build to finish writing, then package again', 'PACK_SOURCE_CHANGED');
        }
        left -= bytesRead;
        const full = advance(bytesRead);
        if (full) yield full;
      }
    } finally {
      await fh.close();
    }
    yield* zeros(padding(e.size));
  }
  yield* zeros(2 * BLOCK);
  if (pos > 0) yield buf.subarray(0, pos);
}
