import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Header, Pax } from 'tar';
import { BLOCK, encodeHeader } from './tar-header';

test('headers pin every field that is not content, and node-tar reads them back', () => {
  const block = encodeHeader({ name: 'bin/run', kind: 'file', mode: 0o755, size: 1234 });
  assert.equal(block.length, BLOCK);
  const h = new Header(block);
  assert.equal(h.cksumValid, true);
  assert.deepEqual(
    { path: h.path, mode: h.mode, size: h.size, uid: h.uid, gid: h.gid, uname: h.uname, gname: h.gname, mtime: h.mtime?.getTime(), type: h.type },
    { path: 'bin/run', mode: 0o755, size: 1234, uid: 0, gid: 0, uname: '', gname: '', mtime: 0, type: 'File' },
  );
});

test('long names use the ustar prefix, then a pax record whose length field is exact', () => {
  const prefixed = `${'a'.repeat(150)}/${'b'.repeat(99)}`;
  const one = encodeHeader({ name: prefixed, kind: 'file', mode: 0o644, size: 0 });
  assert.equal(one.length, BLOCK);
  assert.equal(new Header(one).path, prefixed);

  // Lengths around the 2→3 and 3→4 digit boundaries of the record length; node-tar drops a record whose length is off.
  for (let n = 80; n < 1100; n++) {
    const name = 'n'.repeat(n) + '/x';
    const linkname = 'l'.repeat(n);
    const full = name.length > 255 ? name : `${'é'.repeat(130)}${name}`;
    const blocks = encodeHeader({ name: full, kind: 'symlink', mode: 0o777, size: 0, linkname });
    const pax = new Header(blocks.subarray(0, BLOCK));
    assert.equal(pax.type, 'ExtendedHeader');
    const records = Pax.parse(blocks.subarray(BLOCK, BLOCK + pax.size!).toString('utf8'), undefined, false);
    assert.equal(records.path, full);
    if (linkname.length > 100) assert.equal(records.linkpath, linkname);
  }
});

test("node-tar's header encoder cannot write our bytes: other number fields, and pax for any non-ASCII name", () => {
  const fields = { path: 'bin/run', type: 'File', mode: 0o755, size: 1234, uid: 0, gid: 0, mtime: new Date(0), uname: '', gname: '', devmaj: 0, devmin: 0 } as const;
  const theirs = Buffer.alloc(BLOCK);
  new Header(fields).encode(theirs, 0);
  const ours = encodeHeader({ name: 'bin/run', kind: 'file', mode: 0o755, size: 1234 });
  assert.equal(ours.toString('latin1', 100, 108), '0000755\u0000');
  assert.equal(theirs.toString('latin1', 100, 108), '000755 \u0000');
  assert.notDeepEqual(theirs, ours);

  const accented = new Header({ ...fields, path: 'café/menu' });
  assert.equal(accented.encode(Buffer.alloc(BLOCK), 0), true, 'node-tar needs a pax header for it');
  assert.equal(encodeHeader({ name: 'café/menu', kind: 'file', mode: 0o644, size: 0 }).length, BLOCK, 'ours is one ustar block');
});
