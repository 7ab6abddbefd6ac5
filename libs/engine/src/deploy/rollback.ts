import { validate } from '../config/names';
import { VezaError, describeError } from '../log/errors';
import { lockedAction, reported, type ActionResult, type ActionScope } from './action';
import { currentActor } from '../state/actor';
import { openContext, type CommonOptions, type Context } from './context';
import { placeRelease, type DeployResult } from './deploy';
import { fastRollbackTarget, previousGood, readHistory, recordFailure, recordSuccess, type HistoryEntry } from '../state/history';
import { recordDeployMetrics } from './metrics';
import { colorProblems, heldDeclarations, verifyPublic } from './phases';
import { checkRelease } from './preflight';
import { fetchRelease } from './release';

/**
 * `infra-deploy:rollback` (seed 001 rollback.yml). fast: flip the edge back
 * to the other colour, after checking its slots exist, run the release the
 * history says they hold and are healthy; refused, pointing at --mode=full,
 * when that colour holds nothing good. full: redeploy the previous good
 * release (or --sha) from its published manifest — no rebuild — through the
 * whole deploy sequence. A --sha must have gone live here before (either
 * mode); a fast rollback with one flips only if the other colour holds it.
 */
export type RollbackMode = 'fast' | 'full';

export interface RollbackOptions extends CommonOptions {
  mode?: string;
  /** full only: the release to go back to, instead of the previous good one. */
  sha?: string;
  dryRun?: boolean;
}

export async function rollback(o: RollbackOptions): Promise<DeployResult> {
  const mode = checkMode(o.mode ?? 'fast');
  if (o.sha !== undefined) validate.version(o.sha, true);
  const ctx = await openContext(o, (env) => `rollback ${env.name} (${mode})${o.dryRun ? ' (dry run)' : ''}`);
  return reported(ctx, async () => {
    // Before the lock and the audit line: a sha that never went live here changes nothing.
    const wanted = o.sha === undefined ? undefined : await wentLive(ctx, o.sha);
    if (mode === 'fast') return lockedAction(ctx, 'rollback', undefined, (scope) => fastRollback(ctx, scope, wanted?.sha));
    const source = await ctx.progress.phase('validate', 'previous good release', async (p) => {
      const good = wanted ?? (await previousGood(ctx.ports.store, ctx.env.name));
      if (!good) {
        throw new VezaError(`${ctx.env.name} has no earlier good release in its history`,
          `deploy a known-good sha: nx run infra-deploy:deploy --env=${ctx.env.name} --sha=<sha>`, 'ROLLBACK_REFUSED');
      }
      const release = await fetchRelease(ctx.ports.registry(), good.manifest.owner, good.sha, good.manifest.sha256);
      const checked = await checkRelease(ctx, { sha: good.sha, kind: 'published', release }, p.step);
      p.note(`${good.sha}, live on ${good.color} since ${good.time}; every artifact verified`);
      return checked;
    });
    try {
      return await lockedAction(ctx, 'rollback', source.sha, (scope) => placeRelease(ctx, source, scope, { rollback: true }));
    } finally {
      await source.dispose();
    }
  });
}

/**
 * The newest history entry of `sha` that went live and was verified
 * (active, or rolled back from since): a release that was never deployed
 * here, or only ever failed, is no rollback target.
 */
async function wentLive(ctx: Context, sha: string): Promise<HistoryEntry> {
  const env = ctx.env.name;
  const entries = (await readHistory(ctx.ports.store, env)).filter((e) => e.sha === sha);
  const live = entries.find((e) => e.outcome === 'active' || e.outcome === 'rolled-back');
  if (live) return live;
  throw new VezaError(entries.length ? `release ${sha} never went live on ${env}: its deploy ${entries[0]!.outcome === 'deploying' ? 'never finished' : 'failed'} (${entries[0]!.time}), so it is no rollback target`
    : `release ${sha} was never deployed to ${env} (not in its history of the last ${ctx.env.retention.history} deploys)`,
  `pick a release its history shows live (npx veza history --env=${env}), or deploy ${sha} as new: nx run infra-deploy:deploy --env=${env} --sha=${sha}`, 'ROLLBACK_REFUSED');
}

function checkMode(mode: string): RollbackMode {
  if (mode !== 'fast' && mode !== 'full') throw new VezaError(`invalid rollback mode ${JSON.stringify(mode)}`, 'use --mode=fast (flip the edge) or --mode=full (redeploy the previous good release)', 'INVALID_INPUT');
  return mode;
}

async function fastRollback(ctx: Context, scope: ActionScope, sha: string | undefined): Promise<ActionResult<DeployResult>> {
  const { env, progress } = ctx;
  const { store, edge } = ctx.ports;
  const { from, to, entry } = await progress.phase('check', 'rollback target', async (p) => {
    const t = await fastRollbackTarget(store, env.name);
    if (sha !== undefined && t.entry.sha !== sha) {
      throw new VezaError(`cannot fast-rollback ${env.name} to ${sha}: the other colour, ${t.to}, holds ${t.entry.sha}`,
        `redeploy ${sha} from its manifest: nx run infra-deploy:rollback --env=${env.name} --mode=full --sha=${sha}`, 'ROLLBACK_REFUSED');
    }
    const problems = await colorProblems(ctx, t.to, t.entry);
    if (problems.length) {
      throw new VezaError(`cannot fast-rollback ${env.name} to ${t.to}: ${problems.join('; ')}`,
        `use nx run infra-deploy:rollback --env=${env.name} --mode=full to redeploy ${t.entry.sha} from its manifest`, 'ROLLBACK_REFUSED');
    }
    p.note(`${t.to} runs ${t.entry.sha}, healthy`);
    return t;
  });
  Object.assign(scope, { sha: entry.sha, from, to });
  // The entries written now describe the colour the edge serves: they carry its release's declarations on.
  const rec = { sha: entry.sha, color: to, actor: currentActor(ctx.processEnv).user, manifest: entry.manifest, declarations: entry.declarations };
  const retention = env.retention.history;

  await progress.phase('edge', 'edge', async (p) => {
    await edge.ensureUp();
    p.note(`${edge.name} runs`);
  });
  await progress.phase('E', `switch edge to ${to}`, async (p) => {
    await edge.switchTo(to, { sha: entry.sha });
    p.note(`${edge.name} serves ${to}`);
  });
  try {
    await progress.phase('F', 'verify', (p) => verifyPublic(ctx, to, entry.sha, heldDeclarations(ctx, entry), p));
  } catch (e) {
    const back = await edge.switchTo(from, { sha: entry.sha, force: true }).then(() => `switched back to ${from}`, (r) => `switching back to ${from} failed too: ${describeError(r)}`);
    await recordFailure(store, env.name, rec, { retention });
    await recordDeployMetrics(store, env.name, { outcome: 'failure', time: new Date() });
    throw new VezaError(`fast rollback of ${env.name} to ${to} failed verification: ${describeError(e)}; ${back}`,
      `use nx run infra-deploy:rollback --env=${env.name} --mode=full`, 'ROLLBACK_FAILED');
  }
  await progress.phase('record', 'record', async (p) => {
    await recordSuccess(store, env.name, rec, { retention, rollback: true });
    await recordDeployMetrics(store, env.name, { outcome: 'success', time: new Date(), activeColor: to, sha: entry.sha });
    p.note(`history, metrics and audit of ${env.name}`);
  });
  const value: DeployResult = { outcome: 'success', env: env.name, sha: entry.sha, color: to, previousColor: from, publicUrl: env.publicUrl, dryRun: Boolean(ctx.plan) };
  return { outcome: 'success', value, message: `rolled back to ${entry.sha} on ${to}: ${env.publicUrl}` };
}
