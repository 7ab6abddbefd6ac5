import { VezaError } from '../log/errors';
import { ByteReader } from './byte-reader';
import { BLOCK, cstring, decodeHeader, padding, parsePax, type EntryKind } from './tar-header';

/**
 * Streams the entries of a tar archive. Each entry's body must be consumed
 * (or abandoned) before the next entry is requested; bodies are slices of the
 * decompressed chunks, so nothing bigger than one chunk is held.
 */
export interface TarEntry {
  path: string;
  /** 'other' carries devices, fifos and anything else an artifact must not hold. */
  kind: EntryKind | 'other';
  typeflag: string;
  mode: number;
  size: number;
  linkpath: string;
  body: AsyncIterable<Buffer>;
}

const KINDS: Record<string, EntryKind> = { '0': 'file', '\u0000': 'file', '7': 'file', '1': 'hardlink', '2': 'symlink', '5': 'dir' };
// Metadata blocks (pax, GNU long names) are small; a huge one means a hostile or broken archive.
const MAX_META_BYTES = 1024 * 1024;
const NO_BODY: AsyncIterable<Buffer> = { async *[Symbol.asyncIterator]() {} };

export async function* readTar(source: AsyncIterable<Buffer>, label: string): AsyncGenerator<TarEntry> {
  const corrupt = (why: string) => new VezaError(`${label}: ${why}`, 'the artifact is damaged or not a tar archive; fetch or build it again', 'ARTIFACT_CORRUPT');
  const r = new ByteReader(source, (what) => corrupt(`archive is truncated (ends inside ${what})`));
  let pax = new Map<string, string>();
  let longName: string | undefined;
  let longLink: string | undefined;

  const meta = async (size: number, what: string) => {
    if (size > MAX_META_BYTES) throw corrupt(`${what} of ${size} bytes is too large`);
    const data = await r.exact(size, what);
    await r.skip(padding(size), what);
    return data;
  };

  for (;;) {
    const block = await r.exactOrEnd(BLOCK, 'a tar header');
    if (!block) throw corrupt('archive is truncated (no end-of-archive marker)');
    let h;
    try {
      h = decodeHeader(block);
    } catch (e) {
      throw corrupt(`${(e as Error).message} at tar offset ${r.position - BLOCK}`);
    }
    if (!h) return;
    const size = pax.has('size') ? Number(pax.get('size')) : h.size;
    if (!Number.isSafeInteger(size) || size < 0) throw corrupt(`bad entry size at tar offset ${r.position - BLOCK}`);

    if (h.typeflag === 'x' || h.typeflag === 'g') {
      const data = await meta(size, 'a pax header');
      let records;
      try {
        records = parsePax(data);
      } catch (e) {
        throw corrupt(`${(e as Error).message} at tar offset ${r.position - BLOCK}`);
      }
      // Global records set defaults for an archive's other tools; only per-entry records name entries.
      if (h.typeflag === 'x') pax = records;
      continue;
    }
    if (h.typeflag === 'L' || h.typeflag === 'K') {
      const data = await meta(size, 'a GNU long name');
      const value = cstring(data, 0, data.length);
      if (h.typeflag === 'L') longName = value;
      else longLink = value;
      continue;
    }

    let left = size;
    const body: AsyncIterable<Buffer> = left === 0 ? NO_BODY : {
      async *[Symbol.asyncIterator]() {
        while (left > 0) {
          const p = await r.piece(left, 'a file body');
          left -= p.length;
          yield p;
        }
      },
    };
    yield {
      path: pax.get('path') ?? longName ?? h.name,
      linkpath: pax.get('linkpath') ?? longLink ?? h.linkname,
      kind: KINDS[h.typeflag] ?? 'other',
      typeflag: h.typeflag,
      mode: h.mode,
      size,
      body,
    };
    pax = new Map();
    longName = longLink = undefined;
    await r.skip(left + padding(size), 'a file body');
  }
}
