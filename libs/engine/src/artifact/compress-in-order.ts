/**
 * Compresses chunks on the libuv pool, at most `parallel` at a time, and hands
 * the frames to `consume` one at a time in chunk order.
 *
 * Unlike mapOrdered (which refills a slot only once the oldest result has been
 * consumed), a slot is refilled from the completion callback of whichever
 * compression finished, before this thread turns to consuming: an
 * incompressible chunk compresses in ~5 ms while a text one takes ~40 ms, so
 * waiting for the oldest left a core idle behind the slow one. `parallel`
 * should match the cores: more compressions than cores cost more CPU for the
 * same bytes (+20 % with 4 on 2 cores). `held` bounds memory: chunks started
 * whose frame is not consumed yet.
 */
export function compressInOrder(
  chunks: Iterator<Buffer>,
  compress: (chunk: Buffer) => Promise<Buffer>,
  consume: (frame: Buffer) => Promise<void>,
  o: { parallel: number; held: number },
): Promise<void> {
  return new Promise((resolve, reject) => {
    const ready = new Map<number, Buffer>();
    let started = 0;
    let consumed = 0;
    let running = 0;
    let exhausted = false;
    let consuming = false;
    let failed = false;
    const fail = (e: unknown) => {
      if (!failed) reject(e);
      failed = true;
    };
    const finishIfDone = () => {
      if (!failed && exhausted && consumed === started) resolve();
    };
    // The next chunk is read ahead, so a freed slot restarts without waiting for the read.
    let ahead: Buffer | undefined;
    const readAhead = () => {
      try {
        const next = chunks.next();
        if (next.done) exhausted = true;
        else ahead = next.value;
      } catch (e) {
        fail(e);
      }
    };
    const fill = () => {
      if (!ahead && !exhausted && !failed) readAhead();
      while (ahead && !failed && running < o.parallel && started - consumed < o.held) {
        const index = started++;
        running++;
        compress(ahead).then((frame) => {
          running--;
          ready.set(index, frame);
          fill();
          void consumeReady();
        }, fail);
        ahead = undefined;
        readAhead();
      }
    };
    const consumeReady = async () => {
      if (consuming) return;
      consuming = true;
      try {
        for (let frame = ready.get(consumed); frame && !failed; frame = ready.get(consumed)) {
          ready.delete(consumed);
          await consume(frame);
          consumed++;
          fill();
        }
      } catch (e) {
        fail(e);
      }
      consuming = false;
      finishIfDone();
    };
    fill();
    finishIfDone();
  });
}
