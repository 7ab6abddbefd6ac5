import { appendAudit, type AuditEntry } from './audit';
import { currentActor } from '../state/actor';
import { openContext, type CommonOptions, type Context } from './context';
import { OPERATOR_HOLD, acquireLock, describeHolder, envLock, forceUnlock, type LockHolder } from '../state/lock';

/**
 * `veza lock`: takes the environment's deploy lock and keeps it after the
 * command ends, so no deploy, rollback, switch or cleanup starts until
 * `unlock` (an incident, a freeze). Refused, naming the holder, while
 * anything else holds it. Audited.
 */
export async function lock(o: CommonOptions): Promise<LockHolder> {
  const ctx = await openContext(o, (env) => `lock ${env.name}`);
  const actor = currentActor(ctx.processEnv);
  const held = await acquireLock(ctx.ports.store, envLock(ctx.env.name), { action: OPERATOR_HOLD, user: actor.user }, { logger: ctx.log });
  const message = `${ctx.env.name} is locked by ${describeHolder(held.holder)}: nothing changes it until unlock`;
  await audit(ctx, 'lock', { sha: null, outcome: 'success', message });
  ctx.progress.summary('success', message);
  return held.holder;
}

/**
 * `infra-deploy:unlock`: removes an environment's deploy lock whoever holds
 * it, for when the operator knows the holder is gone (a stale holder on this
 * host is taken over by the next deploy without this). Audited.
 */
export async function unlock(o: CommonOptions): Promise<LockHolder | undefined> {
  const ctx = await openContext(o, (env) => `unlock ${env.name}`);
  const { store } = ctx.ports;
  const holder = await forceUnlock(store, envLock(ctx.env.name));
  await audit(ctx, 'unlock', { sha: holder?.sha ?? null, outcome: holder ? 'success' : 'noop', message: holder ? `removed the lock of ${describeHolder(holder)}` : 'the environment was not locked' });
  ctx.progress.summary(holder ? 'success' : 'noop', holder ? `removed the lock of ${describeHolder(holder)}` : `${ctx.env.name} was not locked`);
  return holder;
}

/** One instant audit line of a lock command. */
async function audit(ctx: Context, action: 'lock' | 'unlock', e: Pick<AuditEntry, 'sha' | 'outcome' | 'message'>): Promise<void> {
  const actor = currentActor(ctx.processEnv);
  await appendAudit(ctx.ports.store, { time: new Date().toISOString(), action, env: ctx.env.name, from: null, to: null, durationMs: 0, user: actor.user, host: actor.host, ...e });
}
