import { VezaError } from '../log/errors';
import { lockedAction, reported } from './action';
import { openContext, type CommonOptions, type Context } from './context';

/**
 * `infra-deploy:down --env=local`: stops every process of a local
 * environment — its slots, its Postgres, and the edge once no other
 * environment it fronts still runs — keeping every byte of state, so the
 * next deploy brings it all back.
 */
export interface DownOptions extends CommonOptions {
  dryRun?: boolean;
}

export interface DownResult {
  env: string;
  slots: string[];
  data: boolean;
  edge: boolean;
}

export async function down(o: DownOptions): Promise<DownResult> {
  const ctx = await openContext(o, (env) => `down ${env.name}${o.dryRun ? ' (dry run)' : ''}`);
  if (ctx.env.driver !== 'local') {
    throw new VezaError(`down stops local environments only; ${ctx.env.name} uses the ${ctx.env.driver} driver`, 'to retire a colour there, use nx run infra-deploy:cleanup', 'INVALID_INPUT');
  }
  return reported(ctx, () => lockedAction(ctx, 'down', undefined, async () => {
    const { driver, tier, edge } = ctx.ports;
    const slots = await ctx.progress.phase('slots', 'stop slots', async (p) => {
      const running = (await driver.list(ctx.env.name)).filter((s) => s.state === 'running');
      for (const s of running) {
        await driver.stop(s.name);
        p.step(`stopped ${s.name}`);
      }
      p.note(`${running.length} slot(s) stopped`);
      return running.map((s) => s.name);
    });
    const data = await ctx.progress.phase('data', 'stop data tier', async (p) => {
      const stopped = await tier.stop();
      p.note(ctx.plan ? 'planned' : stopped ? 'postgres stopped, data kept' : 'postgres was not running');
      return stopped;
    });
    const edgeStopped = await ctx.progress.phase('edge', 'stop edge', async (p) => {
      const others = await otherEnvsRunning(ctx);
      if (others.length) {
        p.note(`kept: ${edge.name} still fronts ${others.join(', ')}`);
        return false;
      }
      const stopped = await edge.stop();
      p.note(stopped ? `${edge.name} stopped` : `${edge.name} was not running`);
      return stopped;
    });
    const value = { env: ctx.env.name, slots, data, edge: edgeStopped };
    const any = slots.length > 0 || data || edgeStopped;
    return { outcome: any ? 'success' : 'noop', value, message: any ? `${ctx.env.name} is down; its state is kept under .veza/` : `nothing of ${ctx.env.name} was running` };
  }));
}

/** Environments sharing this edge whose slots still run: the edge stays up for them. */
async function otherEnvsRunning(ctx: Context): Promise<string[]> {
  const out: string[] = [];
  for (const other of ctx.workspace.envsOn(ctx.env.edge)) {
    if (other.name === ctx.env.name || other.driver !== 'local') continue;
    if ((await ctx.ports.driver.list(other.name)).some((s) => s.state === 'running')) out.push(other.name);
  }
  return out;
}
