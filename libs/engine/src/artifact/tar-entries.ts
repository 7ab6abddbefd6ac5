import { once } from 'node:events';
import { Parser, type ReadEntry } from 'tar';
import { VezaError } from '../log/errors';
import type { TarEntry } from './extract';

/**
 * The entries of an uncompressed tar stream, decoded by node-tar's parser
 * (ustar, pax, GNU long names, base-256 numbers) and handed out one at a
 * time for the Extractor, which decides what is safe. Each entry's body must
 * be read (or abandoned) before the next is asked for: the parser is fed one
 * chunk at a time and waits while an entry is unread, so memory holds about
 * one chunk. Whatever follows the end-of-archive marker is still pulled from
 * `source` (the caller hashes it) but never parsed or kept.
 */
export async function* tarEntries(source: AsyncIterable<Buffer>, label: string): AsyncGenerator<TarEntry> {
  const corrupt = (why: string) => new VezaError(`${label}: ${why}`, 'the artifact is damaged or not a tar archive; fetch or build it again', 'ARTIFACT_CORRUPT');
  // Strict: every warning (bad checksum, truncation, invalid entry) is an error. The input is already
  // decompressed, so the parser must not sniff it for a compression format of its own.
  const parser = new Parser({ strict: true, zstd: false, brotli: false });
  const queue: { entry: ReadEntry; ignored: boolean }[] = [];
  let current: ReadEntry | undefined;
  let failure: unknown;
  let inputEnded = false;
  let parsed = false;
  let atEnd = false;
  let sawEof = false;
  let wake = () => {};

  let entries = 0;
  parser.on('entry', (entry: ReadEntry) => {
    entries++;
    atEnd = false;
    queue.push({ entry, ignored: false });
    wake();
  });
  // Types node-tar does not know are skipped by it; an artifact must not hold them, so they are handed on and refused.
  parser.on('ignoredEntry', (entry: ReadEntry) => {
    entries++;
    queue.push({ entry, ignored: true });
    wake();
  });
  // The end-of-archive marker is a zero block (two, strictly; GNU tar stops at the first too).
  parser.on('nullBlock', () => (atEnd = true));
  parser.on('eof', () => (atEnd = sawEof = true));
  parser.on('end', () => {
    parsed = true;
    wake();
  });
  parser.on('error', (e: Error & { code?: string }) => {
    // node-tar calls a tar with no entry unrecognised; a properly ended one is what packing an empty directory writes.
    if (e.code === 'TAR_BAD_ARCHIVE' && sawEof && entries === 0) return;
    // An error raised while the input is ending is a truncation; node-tar's message says by how much.
    failure ??= corrupt(inputEnded ? `archive is truncated (${e.message})` : e.message);
    wake();
  });

  const stop = new AbortController();
  const feed = (async () => {
    for await (const chunk of source) {
      if (stop.signal.aborted) return;
      // Past the end-of-archive marker the parser would only buffer what it is given.
      if (sawEof) continue;
      if (!parser.write(chunk)) await once(parser, 'drain', { signal: stop.signal });
    }
    inputEnded = true;
    parser.end();
  })().catch((e: unknown) => {
    if (stop.signal.aborted) return;
    failure ??= e;
    // The entry being read will get no more bytes: end it so its reader returns, then the failure is thrown.
    current?.end();
    wake();
  });

  try {
    for (;;) {
      const changed = new Promise<void>((resolve) => (wake = resolve));
      if (failure) throw failure;
      const next = queue.shift();
      if (next) {
        current = next.entry;
        yield toTarEntry(next.entry, next.ignored);
        // An unread body (a link or directory that claims a size) is skipped so the parser moves on.
        next.entry.resume();
        current = undefined;
        continue;
      }
      if (parsed) break;
      await changed;
    }
    if (!atEnd) throw corrupt('archive is truncated (no end-of-archive marker)');
  } finally {
    stop.abort();
    await feed;
  }
}

const KINDS: Partial<Record<string, TarEntry['kind']>> = {
  File: 'file',
  OldFile: 'file',
  ContiguousFile: 'file',
  Link: 'hardlink',
  SymbolicLink: 'symlink',
  Directory: 'dir',
};

function toTarEntry(e: ReadEntry, ignored: boolean): TarEntry {
  return {
    path: e.path,
    linkpath: e.linkpath ?? '',
    kind: (!ignored && KINDS[e.type]) || 'other',
    typeflag: e.header.typeKey,
    mode: e.mode ?? 0,
    size: e.size,
    body: e,
  };
}
