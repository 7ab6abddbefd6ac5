import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Header } from 'tar';
import { BLOCK, decodeHeader, encodeHeader, parsePax } from './tar-header';

test('headers pin every field that is not content, and node-tar reads them back', () => {
  const block = encodeHeader({ name: 'bin/run', kind: 'file', mode: 0o755, size: 1234 });
  assert.equal(block.length, BLOCK);
  const h = new Header(block);
  assert.equal(h.cksumValid, true);
  assert.deepEqual(
    { path: h.path, mode: h.mode, size: h.size, uid: h.uid, gid: h.gid, uname: h.uname, gname: h.gname, mtime: h.mtime?.getTime(), type: h.type },
    { path: 'bin/run', mode: 0o755, size: 1234, uid: 0, gid: 0, uname: '', gname: '', mtime: 0, type: 'File' },
  );
  assert.deepEqual(decodeHeader(block), { name: 'bin/run', linkname: '', typeflag: '0', mode: 0o755, size: 1234 });
  assert.equal(decodeHeader(Buffer.alloc(BLOCK)), null);
  const bad = Buffer.from(block);
  bad[0] = 0x63;
  assert.throws(() => decodeHeader(bad), /checksum/);
});

test('long names use the ustar prefix, then a pax record whose length field is exact', () => {
  const prefixed = `${'a'.repeat(150)}/${'b'.repeat(99)}`;
  const one = encodeHeader({ name: prefixed, kind: 'file', mode: 0o644, size: 0 });
  assert.equal(one.length, BLOCK);
  assert.equal(decodeHeader(one)!.name, prefixed);

  // Lengths around the 2→3 and 3→4 digit boundaries of the record length.
  for (let n = 80; n < 1100; n++) {
    const name = 'n'.repeat(n) + '/x';
    const linkname = 'l'.repeat(n);
    const blocks = encodeHeader({ name: name.length > 255 ? name : `${'é'.repeat(130)}${name}`, kind: 'symlink', mode: 0o777, size: 0, linkname });
    const pax = decodeHeader(blocks.subarray(0, BLOCK))!;
    assert.equal(pax.typeflag, 'x');
    const records = parsePax(blocks.subarray(BLOCK, BLOCK + pax.size));
    assert.equal(records.get('linkpath') ?? linkname, linkname);
    assert.ok(records.get('path')!.endsWith(name));
  }
});
