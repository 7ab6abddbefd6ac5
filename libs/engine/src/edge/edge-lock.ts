import { setTimeout as sleep } from 'node:timers/promises';
import { isVezaError } from '../log/errors';
import type { Logger } from '../log/logger';
import type { StateStore } from '../ports/state-store';
import { edgeLock, withLock } from '../state/lock';

/**
 * One writer at a time per edge: environments that share an edge each hold
 * their own deploy lock, yet their switches rewrite the same file. The edge
 * lock waits — a switch takes well under a second — instead of failing at
 * once; only a live holder (LOCKED) is worth waiting for, a corrupt lock
 * file or a takeover race is reported as it is.
 */
export async function withEdgeLock<T>(store: StateStore, edge: string, request: { action: string; sha?: string }, log: Logger, fn: () => Promise<T>, waitMs = 60_000): Promise<T> {
  const deadline = Date.now() + waitMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await withLock(store, edgeLock(edge), request, fn, { logger: log });
    } catch (e) {
      if (!isVezaError(e) || e.code !== 'LOCKED' || Date.now() > deadline) throw e;
      if (attempt === 0) log.info(`waiting for the ${edge} edge: ${e.message}`);
      await sleep(50);
    }
  }
}
