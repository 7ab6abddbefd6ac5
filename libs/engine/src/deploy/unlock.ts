import { appendAudit } from './audit';
import { currentActor } from '../state/actor';
import { openContext, type CommonOptions } from './context';
import { describeHolder, envLock, forceUnlock, type LockHolder } from '../state/lock';

/**
 * `infra-deploy:unlock`: removes an environment's deploy lock whoever holds
 * it, for when the operator knows the holder is gone (a stale holder on this
 * host is taken over by the next deploy without this). Audited.
 */
export async function unlock(o: CommonOptions): Promise<LockHolder | undefined> {
  const ctx = await openContext(o, (env) => `unlock ${env.name}`);
  const { store } = ctx.ports;
  const holder = await forceUnlock(store, envLock(ctx.env.name));
  const actor = currentActor(ctx.processEnv);
  await appendAudit(store, {
    time: new Date().toISOString(),
    action: 'unlock',
    env: ctx.env.name,
    sha: holder?.sha ?? null,
    from: null,
    to: null,
    outcome: holder ? 'success' : 'noop',
    durationMs: 0,
    user: actor.user,
    host: actor.host,
    message: holder ? `removed the lock of ${describeHolder(holder)}` : 'the environment was not locked',
  });
  ctx.progress.summary(holder ? 'success' : 'noop', holder ? `removed the lock of ${describeHolder(holder)}` : `${ctx.env.name} was not locked`);
  return holder;
}
