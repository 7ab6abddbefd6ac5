import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compressInOrder } from './compress-in-order';

/** A compressor whose calls finish only when the test says so, in any order. */
function manualCompressor() {
  const calls: { input: Buffer; finish: () => void; fail: (e: Error) => void }[] = [];
  let running = 0;
  let maxRunning = 0;
  const compress = (input: Buffer) => new Promise<Buffer>((resolve, reject) => {
    running++;
    maxRunning = Math.max(maxRunning, running);
    const done = () => { running--; };
    calls.push({ input, finish: () => { done(); resolve(Buffer.concat([Buffer.from('z:'), input])); }, fail: (e) => { done(); reject(e); } });
  });
  return { calls, compress, maxRunning: () => maxRunning };
}

const tick = () => new Promise(setImmediate);
const chunks = (n: number) => Array.from({ length: n }, (_, i) => Buffer.from(`c${i}`));

test('frames reach the consumer in chunk order although compressions finish out of order', async () => {
  const c = manualCompressor();
  const seen: string[] = [];
  const done = compressInOrder(chunks(5)[Symbol.iterator](), c.compress, async (f) => { seen.push(f.toString()); }, { parallel: 2, held: 4 });
  await tick();
  assert.equal(c.calls.length, 2);
  c.calls[1]!.finish();
  await tick();
  // The freed slot restarts at once, while frame 1 still waits for frame 0.
  assert.equal(c.calls.length, 3);
  assert.deepEqual(seen, []);
  c.calls[0]!.finish();
  await tick();
  assert.deepEqual(seen, ['z:c0', 'z:c1']);
  for (let i = 2; i < 5; i++) {
    c.calls[i]!.finish();
    await tick();
  }
  await done;
  assert.deepEqual(seen, ['z:c0', 'z:c1', 'z:c2', 'z:c3', 'z:c4']);
  assert.equal(c.maxRunning(), 2);
});

test('no more than `held` chunks are started ahead of the consumer', async () => {
  const c = manualCompressor();
  let releaseConsumer!: () => void;
  const consumerBlocked = new Promise<void>((r) => { releaseConsumer = r; });
  const done = compressInOrder(chunks(6)[Symbol.iterator](), c.compress, () => consumerBlocked, { parallel: 2, held: 3 });
  for (let i = 0; i < 3; i++) {
    await tick();
    c.calls[i]!.finish();
  }
  await tick();
  assert.equal(c.calls.length, 3, 'frame 0 is being consumed, 1 and 2 wait: nothing more starts');
  releaseConsumer();
  for (let i = 3; i < 6; i++) {
    await tick();
    c.calls[i]!.finish();
  }
  await done;
  assert.equal(c.calls.length, 6);
});

test('a failing source, compression or consumer rejects the whole run', async () => {
  function* broken(): Generator<Buffer> {
    yield Buffer.from('ok');
    throw new Error('source broke');
  }
  const c = manualCompressor();
  const fromSource = compressInOrder(broken(), c.compress, async () => undefined, { parallel: 2, held: 4 });
  await assert.rejects(fromSource, /source broke/);

  const d = manualCompressor();
  const fromCompress = compressInOrder(chunks(3)[Symbol.iterator](), d.compress, async () => undefined, { parallel: 2, held: 4 });
  await tick();
  d.calls[0]!.fail(new Error('compress broke'));
  await assert.rejects(fromCompress, /compress broke/);

  const fromConsumer = compressInOrder(chunks(3)[Symbol.iterator](), async (b) => b, async () => { throw new Error('write broke'); }, { parallel: 2, held: 4 });
  await assert.rejects(fromConsumer, /write broke/);
});

test('an empty source resolves without calling anything', async () => {
  let calls = 0;
  await compressInOrder([][Symbol.iterator](), async (b) => { calls++; return b; }, async () => { calls++; }, { parallel: 2, held: 4 });
  assert.equal(calls, 0);
});
