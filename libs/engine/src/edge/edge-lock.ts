import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { PATTERNS } from '../config/names';
import { isVezaError } from '../log/errors';
import type { Logger } from '../log/logger';
import type { StateStore } from '../ports/state-store';
import { withLock } from '../state/lock';

/**
 * One writer at a time per edge: environments that share an edge each hold
 * their own deploy lock, yet their switches rewrite the same file. The edge
 * lock reuses the deploy lock's machinery (stale-holder takeover, holder in
 * the message) under a name of its own, and waits — a switch takes well under
 * a second — instead of failing at once.
 */
export function edgeLockName(edge: string): string {
  const name = `edge-${edge}`;
  return PATTERNS.env.test(name) ? name : `edge-${createHash('sha256').update(edge).digest('hex').slice(0, 16)}`;
}

export async function withEdgeLock<T>(store: StateStore, edge: string, request: { action: string; sha?: string }, log: Logger, fn: () => Promise<T>, waitMs = 60_000): Promise<T> {
  const deadline = Date.now() + waitMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await withLock(store, edgeLockName(edge), request, fn, { logger: log });
    } catch (e) {
      if (!isVezaError(e) || e.code !== 'LOCKED' || Date.now() > deadline || /not a valid lock|kept changing hands/.test(e.message)) throw e;
      if (attempt === 0) log.info(`waiting for the ${edge} edge: ${e.message}`);
      await sleep(50);
    }
  }
}
