import { otherColor, validate, type Color } from '../config/names';
import { VezaError } from '../log/errors';
import { lockedAction, reported } from './action';
import { openContext, type CommonOptions } from './context';
import { readActiveColor } from '../state/history';
import { drainRetiredColor } from './tunnel-drain';

/**
 * `infra-deploy:cleanup --color=X` (seed 001 cleanup_failed.yml): removes
 * one colour's slots once their forensics are done. Hard safety: the colour
 * the edge serves is refused, checked under the deploy lock so a deploy
 * cannot switch in between.
 */
export interface CleanupOptions extends CommonOptions {
  color?: string;
  dryRun?: boolean;
}

export interface CleanupResult {
  env: string;
  color: Color;
  removed: string[];
}

export async function cleanup(o: CleanupOptions): Promise<CleanupResult> {
  if (o.color === undefined) throw new VezaError('cleanup needs --color', 'name the colour whose slots to remove: --color=blue or --color=green (never the active one)', 'INVALID_INPUT');
  const color = validate.color(o.color);
  const ctx = await openContext(o, (env) => `cleanup ${env.name} ${color}${o.dryRun ? ' (dry run)' : ''}`);
  return reported(ctx, () => lockedAction(ctx, 'cleanup', undefined, async (scope) => {
    const { driver, store } = ctx.ports;
    scope.from = color;
    const active = await readActiveColor(store, ctx.env.name);
    if (active === color) {
      throw new VezaError(`refusing to clean up ${color}: it is the colour ${ctx.env.name} serves`,
        `clean up ${otherColor(color)} instead; to retire ${color}, deploy or fast-rollback first so that ${otherColor(color)} serves`, 'CLEANUP_REFUSED');
    }
    const removed = await ctx.progress.phase('cleanup', `remove ${color} slots`, async (p) => {
      const slots = (await driver.list(ctx.env.name)).filter((s) => s.role === color);
      if (slots.length) await drainRetiredColor(ctx, color, p);
      for (const s of slots) {
        await driver.delete(s.name);
        p.step(`removed ${s.name} (${s.release ?? 'unknown release'})`);
      }
      p.note(slots.length ? `${slots.length} slot(s) removed` : `no ${color} slots`);
      return slots.map((s) => s.name);
    });
    const value = { env: ctx.env.name, color, removed };
    return removed.length
      ? { outcome: 'success', value, message: `removed ${removed.join(', ')}` }
      : { outcome: 'noop', value, message: `${ctx.env.name} has no ${color} slots` };
  }));
}
