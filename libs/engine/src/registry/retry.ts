import { setTimeout as sleep } from 'node:timers/promises';
import { VezaError } from '../log/errors';
import type { Logger } from '../log/logger';

export interface RetryPolicy {
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

/** 0.5 s, 1 s, 2 s between four tries: long enough for a registry restart, short enough for CI. */
export const DEFAULT_RETRY: RetryPolicy = { attempts: 4, baseDelayMs: 500, maxDelayMs: 8_000 };

/** One try's outcome: a final value, or a transient failure (its reason) worth another try. */
export type Attempt<T> = { done: T } | { retry: string };

// Connection-level failures that say nothing about the request itself.
const TRANSIENT = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH',
  'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CLOSED',
]);

/** The transient error code somewhere in `e`'s cause chain, if any. */
function transientCode(e: unknown): string | undefined {
  let cur: unknown = e;
  for (let depth = 0; depth < 5 && cur && typeof cur === 'object'; depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string' && TRANSIENT.has(code)) return code;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * Runs `attempt` until it is done, retrying with exponential backoff on the
 * transient failures it reports and on connection errors it throws. Anything
 * else (a VezaError, a 4xx) propagates at once: retrying cannot fix it.
 */
export async function withRetries<T>(
  what: string,
  policy: RetryPolicy,
  log: Logger | undefined,
  exhaustedHint: string,
  attempt: () => Promise<Attempt<T>>,
): Promise<T> {
  let reason = '';
  for (let n = 1; n <= policy.attempts; n++) {
    try {
      const r = await attempt();
      if ('done' in r) return r.done;
      reason = r.retry;
    } catch (e) {
      const code = transientCode(e);
      if (!code) throw e;
      reason = code;
    }
    if (n < policy.attempts) {
      const delay = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (n - 1));
      log?.warn(`${what}: ${reason}; attempt ${n + 1}/${policy.attempts} in ${delay} ms`);
      await sleep(delay);
    }
  }
  throw new VezaError(`${what} failed after ${policy.attempts} attempts (last: ${reason})`, exhaustedHint, 'REGISTRY_UNAVAILABLE');
}
