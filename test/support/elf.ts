/**
 * The one ELF fact the static-binary checks need: whether the file asks for
 * a program interpreter (PT_INTERP, i.e. ld.so). A static binary — Go with
 * cgo off, Rust on musl or with +crt-static (static-pie) — has none.
 */
const PT_INTERP = 3;

export function elfInterpreter(buf: Buffer): string | null {
  if (buf.length < 64 || buf.readUInt32BE(0) !== 0x7f454c46) throw new Error('not an ELF file');
  if (buf[4] !== 2 || buf[5] !== 1) throw new Error('only 64-bit little-endian ELF is read here');
  const phoff = Number(buf.readBigUInt64LE(0x20));
  const phentsize = buf.readUInt16LE(0x36);
  const phnum = buf.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    if (buf.readUInt32LE(at) !== PT_INTERP) continue;
    const offset = Number(buf.readBigUInt64LE(at + 8));
    const size = Number(buf.readBigUInt64LE(at + 0x20));
    return buf.subarray(offset, offset + size).toString('latin1').replace(/\0+$/, '');
  }
  return null;
}
