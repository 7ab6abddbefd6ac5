import { describeError } from '@veza/engine/log/errors';
import type { HttpResponse } from '@veza/engine/util/http';

/**
 * A small, bounded loopback load through the edge: `concurrency` loops of
 * GETs (a new connection each, as many clients are) until stopped or the
 * time limit, counting every answer that is not a 2xx and every socket error.
 */
export interface LoadReport {
  requests: number;
  failures: string[];
  /** The time limit ended the load before the caller stopped it: whatever came after went unloaded. */
  ranOut: boolean;
}

export function startLoad(get: (path: string) => Promise<HttpResponse>, paths: string[], opts: { concurrency?: number; maxMs?: number } = {}): { stop(): Promise<LoadReport> } {
  const deadline = Date.now() + (opts.maxMs ?? 120_000);
  let running = true;
  let requests = 0;
  const failures: string[] = [];
  const worker = async (n: number) => {
    for (let i = n; running && Date.now() < deadline; i++) {
      const path = paths[i % paths.length]!;
      requests++;
      try {
        const r = await get(path);
        if (r.status < 200 || r.status > 299) failures.push(`${path}: HTTP ${r.status}`);
      } catch (e) {
        failures.push(`${path}: ${describeError(e)}`);
      }
    }
  };
  const workers = Array.from({ length: opts.concurrency ?? 4 }, (_, n) => worker(n));
  return {
    async stop() {
      const ranOut = Date.now() >= deadline;
      running = false;
      await Promise.all(workers);
      return { requests, failures, ranOut };
    },
  };
}
