import { VezaError } from '../log/errors';
import { ByteReader } from './byte-reader';

/**
 * Splits a zstd stream into whole frames (RFC 8878 §3.1) by walking the frame
 * and block headers, without decompressing. The native binding only
 * decompresses whole buffers, so this is what keeps unpacking streamed: memory
 * holds one frame at a time, and `veza package` writes frames of at most one
 * chunk (4 MiB of tar). A foreign single-frame archive (the `zstd` CLI) is
 * accepted up to `maxFrameBytes` compressed.
 */
const FRAME_MAGIC = 0xfd2fb528;
const SKIPPABLE_MASK = 0xfffffff0;
const SKIPPABLE_MAGIC = 0x184d2a50;
const DICT_ID_BYTES = [0, 1, 2, 4];
const FCS_BYTES = [0, 2, 4, 8];

export const DEFAULT_MAX_FRAME_BYTES = 256 * 1024 * 1024;

export async function* zstdFrames(
  source: AsyncIterable<Buffer>,
  label: string,
  maxFrameBytes = DEFAULT_MAX_FRAME_BYTES,
): AsyncGenerator<Buffer> {
  const r = new ByteReader(source, (what) =>
    new VezaError(`${label} is truncated (ends inside ${what})`, 'the file is incomplete; fetch or build it again', 'ARTIFACT_TRUNCATED'));
  let frames = 0;
  for (;;) {
    const start = r.position;
    const magicBytes = await r.exactOrEnd(4, 'a zstd frame header');
    if (!magicBytes) break;
    const magic = magicBytes.readUInt32LE(0);
    if ((magic & SKIPPABLE_MASK) >>> 0 === SKIPPABLE_MAGIC) {
      await r.skip((await r.exact(4, 'a skippable frame')).readUInt32LE(0), 'a skippable frame');
      continue;
    }
    if (magic !== FRAME_MAGIC) {
      throw new VezaError(`${label} is not a zstd stream (bad magic at byte ${start})`, 'pass a .tar.zst made by veza package or the zstd CLI', 'ARTIFACT_CORRUPT');
    }
    const parts: Buffer[] = [magicBytes];
    let size = 4;
    const take = async (n: number, what: string) => {
      const b = await r.exact(n, what);
      parts.push(b);
      size += n;
      if (size > maxFrameBytes) {
        throw new VezaError(`${label}: zstd frame at byte ${start} is larger than ${maxFrameBytes} bytes`,
          'repack it with veza package, which writes small independent frames', 'ARTIFACT_FRAME_TOO_LARGE');
      }
      return b;
    };
    const fhd = (await take(1, 'a zstd frame header'))[0]!;
    if (fhd & 0x08) throw new VezaError(`${label}: zstd frame at byte ${start} sets a reserved bit`, 'the file is corrupt; fetch or build it again', 'ARTIFACT_CORRUPT');
    const singleSegment = (fhd >> 5) & 1;
    const fcsFlag = fhd >> 6;
    const headerRest = (singleSegment ? 0 : 1) + DICT_ID_BYTES[fhd & 3]! + (fcsFlag === 0 ? singleSegment : FCS_BYTES[fcsFlag]!);
    if (headerRest) await take(headerRest, 'a zstd frame header');
    for (let last = 0; !last;) {
      const bh = await take(3, 'a zstd block header');
      const v = bh[0]! | (bh[1]! << 8) | (bh[2]! << 16);
      last = v & 1;
      const type = (v >> 1) & 3;
      if (type === 3) throw new VezaError(`${label}: reserved zstd block type in the frame at byte ${start}`, 'the file is corrupt; fetch or build it again', 'ARTIFACT_CORRUPT');
      // An RLE block stores its one repeated byte; the size field is the regenerated length.
      const body = type === 1 ? 1 : v >>> 3;
      if (body) await take(body, 'a zstd block');
    }
    if (fhd & 0x04) await take(4, 'a zstd frame checksum');
    frames++;
    yield parts.length === 1 ? parts[0]! : Buffer.concat(parts, size);
  }
  if (frames === 0) throw new VezaError(`${label} holds no zstd frame`, 'the file is empty or not an artifact; fetch or build it again', 'ARTIFACT_CORRUPT');
}
