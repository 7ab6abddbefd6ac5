/**
 * Maps an async source through an async function with at most `concurrency`
 * calls in flight, yielding results in source order. Pulling the next item
 * only when a slot is free is what bounds memory: (de)compression runs on
 * the libuv pool while the main thread reads or writes the neighbouring chunk.
 */
export async function* mapOrdered<T, R>(
  source: AsyncIterable<T>,
  fn: (item: T) => Promise<R>,
  concurrency: number,
): AsyncGenerator<R> {
  const inflight: Promise<R>[] = [];
  const start = (item: T) => {
    const p = fn(item);
    // Awaited later, in order; this only keeps an early failure from being reported as unhandled.
    p.catch(() => undefined);
    inflight.push(p);
  };
  for await (const item of source) {
    start(item);
    if (inflight.length >= concurrency) yield await inflight.shift()!;
  }
  while (inflight.length) yield await inflight.shift()!;
}
