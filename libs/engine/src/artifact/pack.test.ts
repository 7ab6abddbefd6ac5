import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { VezaError } from '../log/errors';
import { decompress } from '@mongodb-js/zstd';
import { packDirectory } from './pack';
import { ChunkPool, tarChunks } from './tar-chunks';
import { sha256File } from './manifest';
import { zstdFrames } from './zstd-frames';
import { snapshot, tempDir, writeTree, type TreeSpec } from './testing/helpers';

// Small chunks so a small tree already spans many independent frames.
const CHUNK = 64 * 1024;
const random = randomBytes(300 * 1024);
const longDir = `${'d'.repeat(90)}/${'e'.repeat(90)}`;

function sampleSpec(): TreeSpec {
  return {
    'bin/start': '#!/bin/sh\necho hi\n',
    'lib/app.js': 'console.log("x");\n'.repeat(5000),
    'lib/random.bin': random,
    'lib/empty': '',
    'lib/link-to-app': { symlink: 'app.js' },
    'lib/up-link': { symlink: '../bin/start' },
    'assets/empty-dir': { dir: true },
    'assets/été ✓.txt': 'unicode name\n',
    [`${longDir}/${'f'.repeat(80)}.txt`]: 'needs a ustar prefix\n',
    [`${'p'.repeat(120)}/${'q'.repeat(120)}`]: 'needs a pax path\n',
    'a-c': 'sorts before a/ bytewise\n',
    'a/b': 'inside a\n',
  };
}

async function treeOf(t: Parameters<typeof tempDir>[0], spec: TreeSpec): Promise<string> {
  const root = join(await tempDir(t), 'root');
  await fs.mkdir(root);
  await writeTree(root, spec);
  return root;
}

async function sampleTree(t: Parameters<typeof tempDir>[0], spec = sampleSpec()): Promise<string> {
  const root = await treeOf(t, spec);
  await fs.chmod(join(root, 'bin/start'), 0o755);
  return root;
}

/** Incompressible but reproducible: a sha256 counter stream, so the golden test needs no stored fixture. */
function seededBytes(length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i * 32 < length; i++) createHash('sha256').update(`veza-golden-${i}`).digest().copy(out, i * 32);
  return out;
}

// The bytes every artifact's sha256 rests on: a change here changes every published artifact's sha256 under its old
// version, which the registry refuses as a conflicting re-publish. Update only with a deliberate format change.
const GOLDEN = {
  tar: '6c4cf5badffd3aef556f88f59b707df28fa08d773782b9970f168a7e0f548b5b',
  defaults: 'b9378fa22f7d75899f77e071e2db864bc707b769006eb41b1e1077aa9217b837',
  smallChunks: 'd58625f9a02e23be8c7a91d6cded7f746104656b6e6b38e585acf279f7d11640',
};

test("the writer's bytes are pinned: same tree, same sha256 as when the format was fixed", async (t) => {
  const root = await sampleTree(t, { ...sampleSpec(), 'lib/random.bin': seededBytes(300 * 1024) });
  const out = await tempDir(t);
  const defaults = await packDirectory(root, join(out, 'defaults.tar.zst'));
  const small = await packDirectory(root, join(out, 'small.tar.zst'), { chunkSize: CHUNK });
  const frames: Buffer[] = [];
  for await (const f of zstdFrames((async function* () { yield await fs.readFile(join(out, 'small.tar.zst')); })(), 'small')) frames.push(await decompress(f));
  assert.deepEqual(
    { tar: createHash('sha256').update(Buffer.concat(frames)).digest('hex'), defaults: defaults.sha256, smallChunks: small.sha256 },
    GOLDEN,
  );
});

test('two packs of the same tree give identical bytes', async (t) => {
  const root = await sampleTree(t);
  const out = await tempDir(t);
  const a = await packDirectory(root, join(out, 'a.tar.zst'), { chunkSize: CHUNK });
  // Also a different schedule: one compression at a time, flushed to disk after every frame.
  const b = await packDirectory(root, join(out, 'b.tar.zst'), { chunkSize: CHUNK, concurrency: 1, held: 1, flushBytes: 1 });
  assert.equal(a.sha256, b.sha256);
  assert.deepEqual(await fs.readFile(join(out, 'a.tar.zst')), await fs.readFile(join(out, 'b.tar.zst')));
  assert.deepEqual(await sha256File(join(out, 'a.tar.zst')), { sha256: a.sha256, size: a.size });
  assert.equal(a.fileCount, 11);
});

test('mtimes, owners, permission noise and creation order do not change the bytes', async (t) => {
  const spec = sampleSpec();
  const clean = await sampleTree(t, spec);
  const reversed = Object.fromEntries(Object.entries(spec).reverse());
  const noisy = await sampleTree(t, reversed);
  const files = ['lib/app.js', 'lib/random.bin', 'lib/empty', 'a/b', 'a-c'];
  for (const f of files) await fs.chmod(join(noisy, f), 0o600);
  await fs.chmod(join(noisy, 'bin/start'), 0o700);
  await fs.chmod(join(noisy, 'lib'), 0o700);
  await fs.chmod(join(noisy, 'assets/empty-dir'), 0o2775);
  for (const f of [...files, 'bin/start', 'lib', 'bin']) {
    await fs.chown(join(noisy, f), 4242, 4343);
    await fs.utimes(join(noisy, f), new Date('2001-02-03T04:05:06Z'), new Date('2011-12-13T14:15:16Z'));
  }
  await fs.lchown(join(noisy, 'lib/link-to-app'), 4242, 4343);

  const out = await tempDir(t);
  const a = await packDirectory(clean, join(out, 'clean.tar.zst'), { chunkSize: CHUNK });
  const b = await packDirectory(noisy, join(out, 'noisy.tar.zst'), { chunkSize: CHUNK });
  assert.equal(b.sha256, a.sha256);

  // The check has teeth: content and the exec bit do change the bytes.
  await fs.chmod(join(noisy, 'lib/app.js'), 0o744);
  const exec = await packDirectory(noisy, join(out, 'exec.tar.zst'), { chunkSize: CHUNK });
  assert.notEqual(exec.sha256, a.sha256);
  await fs.chmod(join(noisy, 'lib/app.js'), 0o644);
  await fs.appendFile(join(noisy, 'a/b'), 'x');
  const changed = await packDirectory(noisy, join(out, 'changed.tar.zst'), { chunkSize: CHUNK });
  assert.notEqual(changed.sha256, a.sha256);
});

test('the zstd CLI decompresses our multi-frame output and GNU tar lists sorted, normalised entries', async (t) => {
  const root = await sampleTree(t);
  const out = await tempDir(t);
  const file = join(out, 'a.tar.zst');
  await packDirectory(root, file, { chunkSize: CHUNK });

  let frames = 0;
  for await (const _ of zstdFrames((async function* () { yield await fs.readFile(file); })(), file)) frames++;
  assert.ok(frames > 5, `expected many frames, got ${frames}`);

  await execa('zstd', ['-q', '-d', file, '-o', join(out, 'a.tar')]);
  const { stdout } = await execa('tar', ['--numeric-owner', '--full-time', '-tvf', join(out, 'a.tar')], { env: { TZ: 'UTC', LC_ALL: 'C' } });
  const lines = stdout.split('\n');
  const names = (await execa('tar', ['-tf', join(out, 'a.tar')])).stdout.split('\n');
  const sorted = [...names].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
  assert.deepEqual(names, sorted);
  assert.ok(names.indexOf('a-c') < names.indexOf('a/'), 'bytewise order, not per-directory order');
  assert.equal(names.length, 19);
  for (const line of lines) {
    assert.match(line, / 0\/0 /, line);
    assert.match(line, / 1970-01-01 00:00:00 /, line);
    assert.match(line, /^(-rw-r--r--|-rwxr-xr-x|drwxr-xr-x|lrwxrwxrwx) /, line);
  }
  assert.ok(lines.some((l) => /^-rwxr-xr-x .* bin\/start$/.test(l)));
  assert.ok(lines.some((l) => /^lrwxrwxrwx .* lib\/up-link -> \.\.\/bin\/start$/.test(l)));

  // And GNU tar extracts exactly the source tree (long names, unicode, links included).
  const extracted = join(out, 'x');
  await fs.mkdir(extracted);
  await execa('tar', ['-xf', join(out, 'a.tar'), '-C', extracted]);
  assert.deepEqual(await snapshot(extracted), await snapshot(root));
});

async function assertPackRefused(t: Parameters<typeof tempDir>[0], src: string, code: string, pattern: RegExp): Promise<void> {
  const out = await tempDir(t);
  await assert.rejects(packDirectory(src, join(out, 'x.tar.zst')), (e: unknown) => {
    assert.ok(e instanceof VezaError);
    assert.equal(e.code, code);
    assert.match(e.toLine(), pattern);
    return true;
  });
  assert.deepEqual(await fs.readdir(out), [], 'a refused pack leaves nothing behind');
}

test('pack refuses a missing or unreadable source directory', async (t) => {
  const base = await tempDir(t);
  await assertPackRefused(t, join(base, 'nope'), 'PACK_SOURCE_UNREADABLE', /cannot read .*nope: ENOENT.* — check that the build output exists/);
  await fs.writeFile(join(base, 'file'), 'x');
  await assertPackRefused(t, join(base, 'file'), 'PACK_SOURCE_UNREADABLE', /file is not a directory/);
  // Root ignores permission bits; a symlink loop is a read the kernel refuses even to root.
  await fs.symlink('loop-self', join(base, 'loop-self'));
  await assertPackRefused(t, join(base, 'loop-self'), 'PACK_SOURCE_UNREADABLE', /ELOOP/);
});

test('pack refuses symlinks that leave the root, and special files', async (t) => {
  const cases: [TreeSpec, RegExp][] = [
    [{ 'a/l': { symlink: '../../etc/passwd' } }, /a\/l -> \.\.\/\.\.\/etc\/passwd cannot be packed: its target leaves the root/],
    [{ 'l': { symlink: '/etc/passwd' } }, /its target is absolute/],
    [{ 'd/up': { symlink: '..' }, 'x': { symlink: 'd/up/../secret' } }, /x -> d\/up\/\.\.\/secret cannot be packed: its target leaves the root/],
    [{ 'a': { symlink: 'b' }, 'b': { symlink: 'a' }, 'c': { symlink: 'a/x' } }, /loops through other symlinks/],
  ];
  for (const [spec, pattern] of cases) {
    await assertPackRefused(t, await treeOf(t, spec), 'PACK_LINK_ESCAPES', pattern);
  }
  const root = await treeOf(t, { 'ok.txt': 'x' });
  await execa('mkfifo', [join(root, 'pipe')]);
  await assertPackRefused(t, root, 'PACK_UNSUPPORTED_FILE', /pipe is a socket, fifo or device/);
});

test('a pack that fails after writing removes its temp file', async (t) => {
  const root = await sampleTree(t);
  const out = await tempDir(t);
  // The target path is a non-empty folder: everything is written, then the final rename fails.
  await fs.mkdir(join(out, 'a.tar.zst'));
  await fs.writeFile(join(out, 'a.tar.zst', 'keep'), 'x');
  await assert.rejects(packDirectory(root, join(out, 'a.tar.zst'), { chunkSize: CHUNK }), { code: 'PACK_FAILED' });
  assert.deepEqual(await fs.readdir(out), ['a.tar.zst']);
  assert.deepEqual(await fs.readdir(join(out, 'a.tar.zst')), ['keep']);
});

test('a file that shrinks between listing and reading is refused', async (t) => {
  const root = await treeOf(t, { f: '0123456789' });
  const chunks = tarChunks(root, [{ name: 'f', rel: 'f', kind: 'file', mode: 0o644, size: 100 }], new ChunkPool(4096, 1));
  await assert.rejects(async () => { for await (const _ of chunks); }, { code: 'PACK_SOURCE_CHANGED', message: /f shrank while it was being packed/ });
});
