import { ChunkPool, tarChunks } from './tar-chunks';
import { listTree } from './tree';

/**
 * An uncompressed tar of a directory the engine unpacked and checked itself,
 * written by the packer's own tar writer: what a slot receives instead of
 * the `.tar.zst`, so unpacking it there takes nothing but Debian's own
 * `tar` (essential in every Debian image), never `zstd`.
 */
export async function plainTar(dir: string): Promise<Buffer> {
  // keep = 0: every chunk is a fresh buffer, so the ones collected here are never reused underneath.
  return Buffer.concat([...tarChunks(dir, await listTree(dir), new ChunkPool(1024 * 1024, 0))]);
}
