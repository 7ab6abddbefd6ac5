import type { FileHandle } from 'node:fs/promises';

/** FileHandle.write may write less than asked; artifacts must never be short. */
export async function writeAll(fh: FileHandle, data: Buffer): Promise<void> {
  for (let off = 0; off < data.length;) off += (await fh.write(data, off, data.length - off)).bytesWritten;
}
