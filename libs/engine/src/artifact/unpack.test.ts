import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { VezaError } from '../log/errors';
import { packDirectory } from './pack';
import { unpackArtifact } from './unpack';
import { zstdFrames } from './zstd-frames';
import { compress } from '@mongodb-js/zstd';
import { craftArchive, craftTar, sha256, snapshot, tempDir, writeTree, type RawEntry } from './testing/helpers';

type T = Parameters<typeof tempDir>[0];

async function packedSample(t: T) {
  const base = await tempDir(t);
  const root = join(base, 'root');
  await writeTree(root, {
    'bin/run': '#!/bin/sh\nexit 0\n',
    'lib/data.bin': randomBytes(200 * 1024),
    'lib/text.txt': 'line\n'.repeat(20000),
    'lib/alias': { symlink: 'text.txt' },
    'lib/sub/back': { symlink: '../../bin/run' },
    'empty-dir': { dir: true },
    [`${'x'.repeat(150)}/${'y'.repeat(150)}`]: 'long\n',
  });
  await fs.chmod(join(root, 'bin/run'), 0o755);
  const file = join(base, 'a.tar.zst');
  const packed = await packDirectory(root, file, { chunkSize: 32 * 1024 });
  return { base, root, file, packed };
}

/** Where an unpack must write nothing on refusal: a fresh folder and a sentinel beside it. */
async function destArea(t: T) {
  const area = await tempDir(t, 'veza-unpack-');
  const parent = join(area, 'slots');
  await fs.mkdir(parent);
  await fs.writeFile(join(area, 'sentinel'), 'untouched');
  return { area, parent, dest: join(parent, 'current') };
}

async function assertRefused(t: T, file: string, sha: string, code: string, pattern: RegExp): Promise<void> {
  const { area, parent, dest } = await destArea(t);
  await assert.rejects(unpackArtifact({ file, sha256: sha, dest }), (e: unknown) => {
    assert.ok(e instanceof VezaError, String(e));
    assert.equal(e.code, code, e.toLine());
    assert.match(e.toLine(), pattern);
    return true;
  });
  assert.deepEqual(await fs.readdir(parent), [], 'nothing written next to the destination');
  assert.deepEqual((await fs.readdir(area)).sort(), ['sentinel', 'slots']);
  assert.equal(await fs.readFile(join(area, 'sentinel'), 'utf8'), 'untouched');
}

test('pack then unpack gives back the same tree', async (t) => {
  const { root, file, packed } = await packedSample(t);
  const { dest } = await destArea(t);
  const res = await unpackArtifact({ file, sha256: packed.sha256, dest });
  assert.deepEqual(res, { size: packed.size, fileCount: packed.fileCount });
  assert.deepEqual(await snapshot(dest), await snapshot(root));
  assert.equal((await fs.stat(dest)).mode & 0o777, 0o755);
});

test('an archive made by GNU tar and the zstd CLI (one frame, ./ names) unpacks too', async (t) => {
  const { base, root } = await packedSample(t);
  const file = join(base, 'cli.tar.zst');
  await execa('tar', ['-cf', join(base, 'cli.tar'), '-C', root, '.']);
  await execa('zstd', ['-q', '-3', join(base, 'cli.tar'), '-o', file]);
  const { dest } = await destArea(t);
  await unpackArtifact({ file, sha256: sha256(await fs.readFile(file)), dest });
  assert.deepEqual(await snapshot(dest), await snapshot(root));
});

test('unpack refuses a sha256 mismatch before writing anything', async (t) => {
  const { file } = await packedSample(t);
  await assertRefused(t, file, 'f'.repeat(64), 'ARTIFACT_SHA_MISMATCH', /differs from the expected f{64} — the artifact is corrupt, truncated/);
  await assertRefused(t, file, 'not-a-sha', 'INVALID_INPUT', /invalid expected sha256/);
  // Checked first: not even the destination's parent folder is created.
  const { area } = await destArea(t);
  await assert.rejects(unpackArtifact({ file, sha256: 'f'.repeat(64), dest: join(area, 'new', 'current') }), { code: 'ARTIFACT_SHA_MISMATCH' });
  await assert.rejects(fs.lstat(join(area, 'new')), { code: 'ENOENT' });
});

test('unpack refuses a truncated file, whether or not its sha256 was taken after truncation', async (t) => {
  const { base, file, packed } = await packedSample(t);
  const full = await fs.readFile(file);
  const cut = join(base, 'cut.tar.zst');
  await fs.writeFile(cut, full.subarray(0, full.length - 1000));
  await assertRefused(t, cut, packed.sha256, 'ARTIFACT_SHA_MISMATCH', /differs from the expected/);
  await assertRefused(t, cut, sha256(await fs.readFile(cut)), 'ARTIFACT_TRUNCATED', /is truncated \(ends inside a zstd /);
  // Cut at a frame boundary: every frame is whole, but the tar stream stops early.
  const firstFrames = await firstFramesOf(full, 2);
  await fs.writeFile(cut, firstFrames);
  await assertRefused(t, cut, sha256(firstFrames), 'ARTIFACT_CORRUPT', /archive is truncated/);
});

async function firstFramesOf(buf: Buffer, n: number): Promise<Buffer> {
  const frames: Buffer[] = [];
  for await (const f of zstdFrames((async function* () { yield buf; })(), 'x')) if (frames.push(f) === n) break;
  return Buffer.concat(frames);
}

const evil: [string, RawEntry[], RegExp][] = [
  ['an absolute path', [{ path: '/tmp/veza-evil-abs', body: 'x' }], /unsafe entry "\/tmp\/veza-evil-abs": its path is an absolute path/],
  ['a ".." component', [{ path: 'ok/../../sentinel', body: 'x' }], /unsafe entry "ok\/\.\.\/\.\.\/sentinel": its path contains a "\.\." component/],
  ['a symlink leaving the root', [{ path: 'l', type: 'SymbolicLink', linkpath: '../../sentinel' }], /unsafe entry "l": symlink -> \.\.\/\.\.\/sentinel: its target leaves the root/],
  ['an absolute symlink', [{ path: 'l', type: 'SymbolicLink', linkpath: '/etc/passwd' }], /unsafe entry "l": its symlink target "\/etc\/passwd" is absolute/],
  ['a symlink escaping through another symlink', [
    { path: 'd/up', type: 'SymbolicLink', linkpath: '..' },
    { path: 'x', type: 'SymbolicLink', linkpath: 'd/up/../sentinel' },
  ], /unsafe entry "x": symlink -> d\/up\/\.\.\/sentinel: its target leaves the root/],
  ['a file written through a symlink', [
    { path: 'l', type: 'SymbolicLink', linkpath: '.' },
    { path: 'l/x', body: 'x' },
  ], /unsafe entry "l\/x": it lies below the symlink "l"/],
  ['a hardlink leaving the root', [{ path: 'h', type: 'Link', linkpath: '../../sentinel' }], /unsafe entry "h": its hardlink target contains a "\.\." component/],
  ['an absolute hardlink', [{ path: 'h', type: 'Link', linkpath: '/etc/passwd' }], /unsafe entry "h": its hardlink target is an absolute path/],
  ['a hardlink to a symlink', [
    { path: 'l', type: 'SymbolicLink', linkpath: 'x' },
    { path: 'h', type: 'Link', linkpath: 'l' },
  ], /unsafe entry "h": its hardlink target "l" is not a regular file earlier in the archive/],
  ['a character device', [{ path: 'null', type: 'CharacterDevice' }], /unsafe entry "null": its type "3" \(device, fifo or unknown\) is not allowed/],
  ['a fifo', [{ path: 'p', type: 'FIFO' }], /unsafe entry "p": its type "6"/],
  ['a duplicate file', [{ path: 'a', body: '1' }, { path: 'a', body: '2' }], /unsafe entry "a": it appears twice/],
];

for (const [what, entries, pattern] of evil) {
  test(`unpack refuses ${what} and leaves nothing behind`, async (t) => {
    const base = await tempDir(t);
    const file = join(base, 'evil.tar.zst');
    // A harmless entry first, so the refusal happens after something was already extracted.
    const archive = await craftArchive([{ path: 'first/ok.txt', body: 'fine' }, ...entries]);
    await fs.writeFile(file, archive);
    await assertRefused(t, file, sha256(archive), 'ARTIFACT_UNSAFE', pattern);
    await assert.rejects(fs.lstat('/tmp/veza-evil-abs'), { code: 'ENOENT' });
  });
}

test('a hardlink to an earlier file inside the root is kept', async (t) => {
  const base = await tempDir(t);
  const file = join(base, 'links.tar.zst');
  const archive = await craftArchive([{ path: 'a/file', body: 'shared' }, { path: 'b/hard', type: 'Link', linkpath: 'a/file' }]);
  await fs.writeFile(file, archive);
  const { dest } = await destArea(t);
  const res = await unpackArtifact({ file, sha256: sha256(archive), dest });
  assert.equal(res.fileCount, 2);
  assert.equal(await fs.readFile(join(dest, 'b/hard'), 'utf8'), 'shared');
  assert.equal((await fs.stat(join(dest, 'b/hard'))).nlink, 2);
});

test('unpack refuses an existing destination and a non-zstd file', async (t) => {
  const { file, packed } = await packedSample(t);
  const { parent, dest } = await destArea(t);
  await fs.mkdir(dest);
  await assert.rejects(unpackArtifact({ file, sha256: packed.sha256, dest }), { code: 'UNPACK_DEST_EXISTS' });
  assert.deepEqual(await fs.readdir(parent), ['current']);
  assert.deepEqual(await fs.readdir(dest), []);

  const junk = join(parent, '..', 'junk.tar.zst');
  await fs.writeFile(junk, 'not zstd at all');
  await fs.rmdir(dest);
  await assertRefused(t, junk, sha256(Buffer.from('not zstd at all')), 'ARTIFACT_CORRUPT', /is not a zstd stream \(bad magic at byte 0\)/);
});

/** A tar the test has edited by hand, compressed into an artifact the unpack accepts by its sha256. */
async function artifactOf(t: T, tar: Buffer): Promise<{ file: string; sha: string }> {
  const file = join(await tempDir(t), 'edited.tar.zst');
  const z = await compress(tar, 3);
  await fs.writeFile(file, z);
  return { file, sha: sha256(z) };
}

/** Sets a header block's type flag and fixes its checksum, so only the type is unusual. */
function retype(tar: Buffer, headerOffset: number, flag: string): Buffer {
  const b = Buffer.from(tar);
  b.write(flag, headerOffset + 156, 'latin1');
  b.fill(0x20, headerOffset + 148, headerOffset + 156);
  let sum = 0;
  for (let i = headerOffset; i < headerOffset + 512; i++) sum += b[i]!;
  b.write(`${sum.toString(8).padStart(6, '0')}\u0000 `, headerOffset + 148, 'latin1');
  return b;
}

test('unpack refuses an entry of a type the tar parser does not know', async (t) => {
  const { file, sha } = await artifactOf(t, retype(craftTar([{ path: 'a', body: 'x' }]), 0, 'Z'));
  await assertRefused(t, file, sha, 'ARTIFACT_UNSAFE', /unsafe entry "a": its type "Unsupported" \(device, fifo or unknown\) is not allowed/);
});

test('unpack refuses a header whose checksum does not match', async (t) => {
  const tar = craftTar([{ path: 'a', body: 'x' }]);
  tar[0] = 0x62; // 'b': the name changes, the stored checksum does not
  const { file, sha } = await artifactOf(t, tar);
  await assertRefused(t, file, sha, 'ARTIFACT_CORRUPT', /checksum failure — the artifact is damaged or not a tar archive/);
});

test('unpack refuses a tar that stops between two entries, with no end-of-archive marker', async (t) => {
  const tar = craftTar([{ path: 'a', body: 'x'.repeat(600) }, { path: 'b', body: 'y' }]);
  const { file, sha } = await artifactOf(t, tar.subarray(0, 512 + 1024));
  await assertRefused(t, file, sha, 'ARTIFACT_CORRUPT', /archive is truncated \(no end-of-archive marker\)/);
});

test('bytes after the end-of-archive marker are hashed but never unpacked', async (t) => {
  const trailer = craftTar([{ path: 'after-the-end', body: 'ignored' }]);
  const { file, sha } = await artifactOf(t, Buffer.concat([craftTar([{ path: 'a', body: 'kept' }]), trailer]));
  const { dest } = await destArea(t);
  assert.equal((await unpackArtifact({ file, sha256: sha, dest })).fileCount, 1);
  assert.deepEqual(await fs.readdir(dest), ['a']);
});

test('a link or directory entry that claims a body is skipped past, not waited on', async (t) => {
  const archive = await craftArchive([
    { path: 'l', type: 'SymbolicLink', linkpath: 'a', body: 'a body no reader asks for' },
    { path: 'a', body: 'after' },
  ]);
  const file = join(await tempDir(t), 'odd.tar.zst');
  await fs.writeFile(file, archive);
  const { dest } = await destArea(t);
  await unpackArtifact({ file, sha256: sha256(archive), dest });
  assert.equal(await fs.readFile(join(dest, 'l'), 'utf8'), 'after');
});

test('an artifact packed from an empty directory unpacks to an empty directory', async (t) => {
  const base = await tempDir(t);
  await fs.mkdir(join(base, 'empty'));
  const file = join(base, 'empty.tar.zst');
  const packed = await packDirectory(join(base, 'empty'), file);
  const { dest } = await destArea(t);
  assert.deepEqual(await unpackArtifact({ file, sha256: packed.sha256, dest }), { size: packed.size, fileCount: 0 });
  assert.deepEqual(await fs.readdir(dest), []);
});
