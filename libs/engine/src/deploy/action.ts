import type { Color } from '../config/names';
import { describeError } from '../log/errors';
import { currentActor } from '../state/actor';
import { beginAudit, type AuditAction } from './audit';
import type { Context } from './context';
import { acquireLock, describeHolder, envLock, lockKey, readLock, type HeldLock } from '../state/lock';
import type { HookRun } from './hooks';
import type { Outcome } from './progress';

/**
 * The frame of every action that changes an environment (deploy, rollback,
 * cleanup, down): take its deploy lock — on a dry-run only say who holds
 * it — run, append one audit line with what the action filled into its
 * scope, release the lock however the action ended, and print the summary.
 */
export interface ActionScope {
  sha?: string | null;
  from?: Color | null;
  to?: Color | null;
  hooks?: HookRun[];
}

export interface ActionResult<T> {
  outcome: Exclude<Outcome, 'failure'>;
  value: T;
  /** The summary line's message. */
  message: string;
}

export async function lockedAction<T>(ctx: Context, action: AuditAction, sha: string | undefined, fn: (scope: ActionScope) => Promise<ActionResult<T>>): Promise<T> {
  const { progress } = ctx;
  const lock = await progress.phase('lock', 'deploy lock', (p) => takeLock(ctx, action, sha, p.note));
  const store = ctx.ports.store;
  const audit = beginAudit(store, { action, env: ctx.env.name, sha }, { actor: currentActor(ctx.processEnv) });
  const scope: ActionScope = { sha };
  try {
    const r = await fn(scope);
    await audit.finish(r.outcome, scope);
    progress.summary(r.outcome, ctx.plan ? `dry run, nothing was changed: ${r.message}` : r.message);
    return r.value;
  } catch (e) {
    await audit.finish('failure', { ...scope, message: describeError(e) }).catch((a) => ctx.log.warn(`could not append to the audit log: ${describeError(a)}`));
    throw e;
  } finally {
    await lock?.release();
  }
}

/** Runs `fn` and prints the failure summary if it throws: the one place an action's failure is reported as progress. */
export async function reported<T>(ctx: Context, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    ctx.progress.summary('failure', e instanceof Error ? e.message : String(e));
    throw e;
  }
}

async function takeLock(ctx: Context, action: AuditAction, sha: string | undefined, note: (d: string) => void): Promise<HeldLock | undefined> {
  const { store } = ctx.ports;
  const name = envLock(ctx.env.name);
  if (ctx.plan) {
    const holder = await readLock(store, name);
    note(holder ? `held by ${describeHolder(holder)}: the real ${action} would stop here` : `would take ${store.location}/${lockKey(name)}`);
    return undefined;
  }
  const lock = await acquireLock(store, name, { action, sha, user: currentActor(ctx.processEnv).user }, { logger: ctx.log });
  note(`${store.location}/${lockKey(name)}`);
  return lock;
}
