import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { compress, decompress } from '@mongodb-js/zstd';
import { execa } from 'execa';
import { zstdFrames } from './zstd-frames';

/** Feeds `buf` in awkward slices so every header straddles a chunk boundary somewhere. */
async function* sliced(buf: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

async function collect(source: AsyncIterable<Buffer>): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const f of source) out.push(f);
  return out;
}

test('a concatenation of frames splits back into the same frames, whatever the read size', async () => {
  const parts = [Buffer.from('a'.repeat(300000)), randomBytes(200000), Buffer.alloc(0), Buffer.from('tail')];
  const frames = await Promise.all(parts.map((p) => compress(p, 3)));
  // A skippable frame (magic 0x184D2A5?) between them is stepped over.
  const skippable = Buffer.concat([Buffer.from([0x5a, 0x2a, 0x4d, 0x18, 3, 0, 0, 0]), Buffer.from('abc')]);
  const stream = Buffer.concat([frames[0]!, skippable, ...frames.slice(1)]);
  for (const size of [1, 7, 4096, stream.length]) {
    const got = await collect(zstdFrames(sliced(stream, size), 'test'));
    assert.deepEqual(got, frames, `read size ${size}`);
  }
  const decoded = await Promise.all(frames.map((f) => decompress(f)));
  assert.deepEqual(decoded, parts);
});

test('frames written by the zstd CLI (with and without checksum and content size) are split whole', async () => {
  const data = Buffer.from('some text '.repeat(100000));
  for (const args of [['-q', '-c', '--check', `--stream-size=${data.length}`], ['-q', '-c', '--no-check', '-19']]) {
    const { stdout } = await execa('zstd', args, { input: data, encoding: 'buffer' });
    const cli = Buffer.from(stdout);
    const twice = Buffer.concat([cli, cli]);
    const got = await collect(zstdFrames(sliced(twice, 1000), 'cli'));
    assert.equal(got.length, 2);
    assert.deepEqual(got[0], cli);
    assert.deepEqual(await decompress(got[1]!), data);
  }
});

test('garbage, truncation, empty input and oversized frames are refused with the file named', async () => {
  const frame = await compress(randomBytes(100000), 3);
  await assert.rejects(collect(zstdFrames(sliced(Buffer.from('PK\u0003\u0004 zip?'), 4), 'a.tar.zst')), /a\.tar\.zst is not a zstd stream \(bad magic at byte 0\)/);
  await assert.rejects(collect(zstdFrames(sliced(frame.subarray(0, frame.length - 10), 512), 'a.tar.zst')), { code: 'ARTIFACT_TRUNCATED' });
  await assert.rejects(collect(zstdFrames(sliced(Buffer.alloc(0), 1), 'a.tar.zst')), /a\.tar\.zst holds no zstd frame/);
  await assert.rejects(collect(zstdFrames(sliced(frame, 4096), 'a.tar.zst', 50000)), { code: 'ARTIFACT_FRAME_TOO_LARGE' });
});
