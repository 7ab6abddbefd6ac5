/**
 * The tar headers `veza package` writes: POSIX ustar with every variable
 * field pinned (mtime, owner, names), adding a pax record only for what ustar
 * cannot hold, so the bytes depend on nothing but path, type, mode, size and
 * link target. Reading is node-tar's (tar-entries.ts).
 *
 * Why not node-tar's writer: its number fields are `000644 \0` (digits,
 * space, NUL) where ours are `0000644\0`, and it turns any non-ASCII name
 * into a pax header; no option changes either. Every artifact already
 * published would get other bytes and another sha256 under the same version,
 * which the registry refuses as a conflicting re-publish (tar-header.test.ts
 * shows the difference; pack.test.ts pins our bytes).
 */
export const BLOCK = 512;
const FIXED_MTIME = 0;

export type EntryKind = 'file' | 'dir' | 'symlink' | 'hardlink';

export interface HeaderFields {
  /** Archive path; directories end with '/'. */
  name: string;
  kind: EntryKind;
  mode: number;
  size: number;
  linkname?: string;
}

const TYPEFLAG: Record<EntryKind, string> = { file: '0', hardlink: '1', symlink: '2', dir: '5' };
const MAX_OCTAL_SIZE = 8 ** 11 - 1;
const PAX_NAME = '././@PaxHeader';

export function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

/** The header block(s) of one entry: a pax header and its data when ustar is too small, then the ustar header. */
export function encodeHeader(f: HeaderFields): Buffer {
  const name = Buffer.from(f.name, 'utf8');
  const link = Buffer.from(f.linkname ?? '', 'utf8');
  const split = splitName(name);
  const pax: [string, string][] = [];
  if (!split) pax.push(['path', f.name]);
  if (link.length > 100) pax.push(['linkpath', f.linkname!]);
  if (f.size > MAX_OCTAL_SIZE) pax.push(['size', String(f.size)]);
  const main = ustarBlock({
    name: split ? split.name : name.subarray(0, 100),
    prefix: split ? split.prefix : Buffer.alloc(0),
    mode: f.mode,
    size: f.size > MAX_OCTAL_SIZE ? 0 : f.size,
    typeflag: TYPEFLAG[f.kind],
    linkname: link.subarray(0, 100),
  });
  if (!pax.length) return main;
  const data = Buffer.from(pax.map(([k, v]) => paxRecord(k, v)).join(''), 'utf8');
  const paxHeader = ustarBlock({ name: Buffer.from(PAX_NAME), prefix: Buffer.alloc(0), mode: 0o644, size: data.length, typeflag: 'x', linkname: Buffer.alloc(0) });
  return Buffer.concat([paxHeader, data, Buffer.alloc(padding(data.length)), main]);
}

/** ustar splits long names at a '/' into prefix (155) and name (100). */
function splitName(name: Buffer): { name: Buffer; prefix: Buffer } | null {
  if (name.length <= 100) return { name, prefix: Buffer.alloc(0) };
  for (let i = name.length - 101; i < name.length && i <= 155; i++) {
    if (i > 0 && name[i] === 0x2f && name.length - i - 1 <= 100 && name.length - i - 1 > 0) {
      return { name: name.subarray(i + 1), prefix: name.subarray(0, i) };
    }
  }
  return null;
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  const bodyLen = Buffer.byteLength(body);
  let len = bodyLen + String(bodyLen).length;
  if (String(len).length + bodyLen !== len) len = bodyLen + String(len).length;
  return `${len}${body}`;
}

function ustarBlock(h: { name: Buffer; prefix: Buffer; mode: number; size: number; typeflag: string; linkname: Buffer }): Buffer {
  const b = Buffer.alloc(BLOCK);
  h.name.copy(b, 0);
  octal(b, 100, 8, h.mode);
  octal(b, 108, 8, 0);
  octal(b, 116, 8, 0);
  octal(b, 124, 12, h.size);
  octal(b, 136, 12, FIXED_MTIME);
  b.write(h.typeflag, 156, 'latin1');
  h.linkname.copy(b, 157);
  b.write('ustar\u000000', 257, 'latin1');
  octal(b, 329, 8, 0);
  octal(b, 337, 8, 0);
  h.prefix.copy(b, 345);
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of b) sum += byte;
  b.write(sum.toString(8).padStart(6, '0') + '\u0000 ', 148, 'latin1');
  return b;
}

function octal(b: Buffer, off: number, len: number, value: number): void {
  b.write(value.toString(8).padStart(len - 1, '0') + '\u0000', off, 'latin1');
}
