import { setTimeout as sleep } from 'node:timers/promises';

/**
 * A read-only health read decides a refusal (a switch, promote, fast
 * rollback) or a redeploy, so a read that got no answer — an `incus exec`
 * or a probe that timed out on a loaded host — is asked again, within a
 * bound, before it counts: under load one slow `incus exec` refused a
 * healthy promote, and another a healthy switch. An answer (an HTTP status,
 * good or bad) is taken at once.
 */
const UNANSWERED_TRIES = 3;
const UNANSWERED_PAUSE_MS = 500;

export async function askUntilAnswered<T>(read: () => Promise<T>, answered: (r: T) => boolean): Promise<T> {
  for (let asked = 1; ; asked++) {
    const r = await read();
    if (answered(r) || asked >= UNANSWERED_TRIES) return r;
    await sleep(UNANSWERED_PAUSE_MS);
  }
}
