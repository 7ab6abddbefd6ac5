/**
 * What an ELF executable asks of the system that runs it: its program
 * interpreter (PT_INTERP, the dynamic loader) and the shared libraries it
 * names (DT_NEEDED). A static binary — Go with cgo off, Rust on musl or with
 * +crt-static — has neither. Only 64-bit little-endian ELF is read: what
 * every component's target is.
 */
export interface ElfLinking {
  interpreter?: string;
  needed: string[];
}

const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const PT_INTERP = 3;
const DT_NEEDED = 1n;
const DT_STRTAB = 5n;

/** undefined for anything that is not a 64-bit little-endian ELF file, or is cut short. */
export function elfLinking(buf: Buffer): ElfLinking | undefined {
  if (buf.length < 64 || buf.readUInt32BE(0) !== 0x7f454c46 || buf[4] !== 2 || buf[5] !== 1) return undefined;
  try {
    const phoff = Number(buf.readBigUInt64LE(0x20));
    const phentsize = buf.readUInt16LE(0x36);
    const phnum = buf.readUInt16LE(0x38);
    const headers = Array.from({ length: phnum }, (_, i) => {
      const at = phoff + i * phentsize;
      return { type: buf.readUInt32LE(at), offset: Number(buf.readBigUInt64LE(at + 8)), vaddr: Number(buf.readBigUInt64LE(at + 16)), filesz: Number(buf.readBigUInt64LE(at + 32)) };
    });
    const out: ElfLinking = { needed: [] };
    const interp = headers.find((h) => h.type === PT_INTERP);
    if (interp) out.interpreter = cString(buf, interp.offset);
    const dynamic = headers.find((h) => h.type === PT_DYNAMIC);
    if (!dynamic) return out;
    const needed: number[] = [];
    let strtab: number | undefined;
    for (let at = dynamic.offset; at + 16 <= dynamic.offset + dynamic.filesz; at += 16) {
      const tag = buf.readBigInt64LE(at);
      if (tag === 0n) break;
      if (tag === DT_NEEDED) needed.push(Number(buf.readBigUInt64LE(at + 8)));
      if (tag === DT_STRTAB) strtab = Number(buf.readBigUInt64LE(at + 8));
    }
    // DT_STRTAB is an address in memory: the loadable segment holding it says where it is in the file.
    const load = strtab === undefined ? undefined : headers.find((h) => h.type === PT_LOAD && h.vaddr <= strtab! && strtab! < h.vaddr + h.filesz);
    if (load) out.needed = needed.map((n) => cString(buf, strtab! - load.vaddr + load.offset + n));
    return out;
  } catch (e) {
    if (e instanceof RangeError) return undefined;
    throw e;
  }
}

function cString(buf: Buffer, at: number): string {
  const end = buf.indexOf(0, at);
  if (end < 0) throw new RangeError('unterminated string');
  return buf.toString('latin1', at, end);
}
