/**
 * A bounded request loop for the edge's hitless tests: `workers` clients
 * send one request after another until stopped or `max` requests in all,
 * counting every answer that is not a 200 and every error as a failure.
 */
export interface LoopCounts {
  ok: number;
  failed: number;
  errors: string[];
}

export function requestLoop(one: () => Promise<{ status: number }>, workers: number, max: number): { stop(): void; done: Promise<LoopCounts> } {
  let stopped = false;
  const counts: LoopCounts = { ok: 0, failed: 0, errors: [] };
  const worker = async () => {
    while (!stopped && counts.ok + counts.failed < max) {
      try {
        const r = await one();
        if (r.status === 200) counts.ok++;
        else {
          counts.failed++;
          counts.errors.push(`status ${r.status}`);
        }
      } catch (e) {
        counts.failed++;
        counts.errors.push((e as Error).message);
      }
    }
  };
  const done = Promise.all(Array.from({ length: workers }, worker)).then(() => counts);
  return { stop: () => void (stopped = true), done };
}
