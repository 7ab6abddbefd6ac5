import { otherColor } from '../config/names';
import { VezaError } from '../log/errors';
import { lockedAction, reported } from './action';
import { currentActor } from '../state/actor';
import { openContext, type CommonOptions, type Context } from './context';
import { checkBake, goLive, hooksOf, type DeployResult } from './deploy';
import { findHooks } from './hooks';
import { colorProblems, heldDeclarations } from './phases';
import { fetchRelease } from './release';
import { heldBy, readActiveColor, readHistory, type HistoryEntry } from '../state/history';

/**
 * `promote`: the release a `deploy --no-switch` left on the inactive colour
 * goes live — E switch, F verify, bake, record, exactly as the deploy would
 * have gone on. Refused, before the lock and changing nothing, when nothing
 * is previewed, when the colour no longer holds the previewed release (a
 * later deploy or cleanup replaced it) or when its slots are not healthy.
 */
export interface PromoteOptions extends CommonOptions {
  /** The release the operator previewed; refused when the inactive colour holds another. */
  sha?: string;
  dryRun?: boolean;
  bake?: number;
}

export async function promote(o: PromoteOptions): Promise<DeployResult> {
  checkBake(o.bake);
  const ctx = await openContext(o, (env) => `promote ${env.name}${o.dryRun ? ' (dry run)' : ''}`);
  return reported(ctx, async () => {
    const { held, prior } = await ctx.progress.phase('check', 'previewed release', async (p) => {
      const r = await previewed(ctx, o.sha);
      p.note(`${r.held.color} runs ${r.held.sha} (previewed ${r.held.time}), healthy`);
      return r;
    });
    const release = await fetchRelease(ctx.ports.registry(), held.manifest.owner, held.sha, held.manifest.sha256);
    const hooks = await findHooks(ctx.root);
    return lockedAction(ctx, 'promote', held.sha, async (scope) => {
      // Again under the lock: a deploy may have replaced the colour since the check above.
      const still = await previewed(ctx, held.sha);
      Object.assign(scope, { from: prior, to: still.held.color });
      const rec = { sha: held.sha, color: held.color, actor: currentActor(ctx.processEnv).user, manifest: held.manifest, declarations: held.declarations };
      const keep = Object.values(release.manifest.components).map((c) => c.sha256);
      return goLive(ctx, { rec, declarations: heldDeclarations(ctx, held), prior, keep, rollback: false, bake: o.bake }, hooksOf(ctx, { sha: held.sha, hooks }, scope, heldBy(await readHistory(ctx.ports.store, ctx.env.name), prior)?.sha));
    });
  });
}

async function previewed(ctx: Context, sha: string | undefined): Promise<{ held: HistoryEntry; prior: ReturnType<typeof otherColor> }> {
  const env = ctx.env.name;
  const prior = await readActiveColor(ctx.ports.store, env);
  const inactive = otherColor(prior);
  const held = heldBy(await readHistory(ctx.ports.store, env), inactive);
  const deploy = `npx nx run infra-deploy:deploy --env=${env} --no-switch`;
  if (held?.outcome !== 'previewed') {
    throw new VezaError(`nothing is previewed on ${env}: ${inactive} ${held ? `holds ${held.sha}, ${held.outcome}` : 'holds no release'}`,
      `deploy a release for preview first: ${deploy} [--sha=<sha>]`, 'PROMOTE_REFUSED');
  }
  if (sha !== undefined && held.sha !== sha) {
    throw new VezaError(`${inactive} holds ${held.sha} for preview, not ${sha}`, `promote what is previewed (drop --sha), or preview ${sha}: ${deploy} --sha=${sha}`, 'PROMOTE_REFUSED');
  }
  const problems = await colorProblems(ctx, inactive, held);
  if (problems.length) {
    throw new VezaError(`cannot promote ${held.sha} on ${env}: ${problems.join('; ')}`, `preview it again: ${deploy} --sha=${held.sha}`, 'PROMOTE_REFUSED');
  }
  return { held, prior };
}
