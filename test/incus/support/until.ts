/**
 * Bounded polling for the Incus-tier files that wait on a service: `fn`
 * until it returns a value, every `everyMs`, at most `attempts` times; the
 * last error it threw goes into the failure.
 */
export async function until<T>(what: string, attempts: number, everyMs: number, fn: () => Promise<T | undefined>): Promise<T> {
  let last: unknown;
  for (let i = 0; i < attempts; i++) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`${what}: not within ${attempts} tries of ${everyMs} ms${last ? ` (last error: ${String(last)})` : ''}`);
}
