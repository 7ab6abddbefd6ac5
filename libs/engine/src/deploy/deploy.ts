import type { RuntimeDeclaration } from '../config/component';
import { otherColor, validate, type Color } from '../config/names';
import { VezaError, describeError, isVezaError } from '../log/errors';
import { RELEASE_SHA_ENV, resolveBuildVersion } from '../build/version';
import { lockedAction, reported, type ActionResult, type ActionScope } from './action';
import { currentActor } from '../state/actor';
import { artifactCacheDir, fetchArtifacts, pruneArtifactCache } from './artifacts';
import { openContext, type CommonOptions, type Context } from './context';
import { currentRelease, heldBy, readActiveColor, readHistory, recordFailure, recordPreview, recordStart, recordSuccess, type ReleaseRecord } from '../state/history';
import { recordDeployMetrics } from './metrics';
import { bakeColor, describeBake } from './bake';
import { describeDiff, diffAgainstLive } from './diff';
import { HOOKS_DIR, describeHookRun, hookCommand, runHook, type HookEvent, type HookFacts, type HookRun } from './hooks';
import { SlotError, colorProblems, logsHint, probeFromEdge, recreateSlots, runMigrations, verifyPublic, withLostDatabase } from './phases';
import { releaseCommand } from './ci-release';
import { checkRelease, type CheckedRelease, type ReleaseSource } from './preflight';
import { coordsOf, fetchRelease, findPublishedRelease, publishRelease, releaseDeclarations } from './release';
import { checkDeclaredVars, needsPipelineVars, type PipelineVars } from './slots';

/**
 * `infra-deploy:deploy` (seed 001 deploy_app): validate → lock → release
 * manifest → already deployed? → fetch and verify every artifact → edge up →
 * data tier (snapshot) → A migrations → B inactive colour → C its slots →
 * D probe from the edge → E switch → F verify through the public URL →
 * record. A failure before E leaves the edge alone; a failure in F switches
 * back. Failed slots are kept, with the command that shows their logs.
 */
export interface DeployOptions extends CommonOptions {
  /** Release to deploy; default: what the workspace builds (HEAD, or local-<hash> for a dirty tree). */
  sha?: string;
  dryRun?: boolean;
  /** Nothing was packaged for this run (CI's deploy job: nx run … --excludeTaskDependencies), so only a published release can be deployed. */
  publishedOnly?: boolean;
  /** Seconds of the post-switch gate, instead of the environment's bake.seconds; 0 skips it. */
  bake?: number;
  /** false: bring the inactive colour up, probed, and stop before the switch (a preview, gone live by promote). */
  switch?: boolean;
}

export interface DeployResult {
  outcome: 'success' | 'noop';
  env: string;
  sha: string;
  color: Color;
  previousColor: Color;
  publicUrl: string;
  dryRun: boolean;
}

export async function deploy(o: DeployOptions): Promise<DeployResult> {
  checkBake(o.bake);
  const ctx = await openContext(o, (env) => `deploy ${env.name}${o.dryRun ? ' (dry run)' : ''}`);
  return reported(ctx, async () => {
    const checked = await ctx.progress.phase('validate', 'check inputs', async (p) => {
      const s = await resolveSource(ctx, o.sha, o.publishedOnly);
      const c = await checkRelease(ctx, s, p.step);
      p.note(`release ${s.sha} from ${s.kind === 'workspace' ? 'the packaged artifacts' : 'the registry'}: every artifact verified`);
      return c;
    });
    try {
      return await lockedAction(ctx, 'deploy', checked.sha, (scope) => placeRelease(ctx, checked, scope, { rollback: false, bake: o.bake, noSwitch: o.switch === false }));
    } finally {
      await checked.dispose();
    }
  });
}

export function checkBake(bake: number | undefined): void {
  checkSeconds('bake', bake, 'the post-switch gate lasts', 'pass --bake=0 to skip the gate, or --bake=60 to watch the new colour for a minute');
}

/** A `--<flag>=SECONDS` option: a whole number from 0 to an hour, or absent. */
export function checkSeconds(flag: string, value: number | undefined, what: string, hint: string): void {
  if (value !== undefined && !(Number.isInteger(value) && value >= 0 && value <= 3_600)) {
    throw new VezaError(`invalid --${flag} ${JSON.stringify(value)}: ${what} a whole number of seconds from 0 to 3600`, hint, 'INVALID_INPUT');
  }
}

/** Which release the request names: published already, or the one this workspace packaged. Reads only. */
export async function resolveSource(ctx: Context, requested: string | undefined, publishedOnly = false): Promise<ReleaseSource> {
  checkDeclaredVars(ctx.components, ctx.processEnv);
  const registry = ctx.ports.registry();
  const allowLocal = registry.allowsLocalVersions;
  const owner = ctx.env.registry.owner;
  const built = requested === undefined ? await resolveBuildVersion(ctx.root, ctx.processEnv, ctx.runner) : undefined;
  const sha = checkVersion(requested ?? built!, allowLocal, ctx.env.name);
  // A release is immutable once its manifest is published: deploying its sha again deploys what was
  // published, even from a checkout of it whose build cache was refilled with other bytes.
  // A release deployed before is fetched against the sha256 its history recorded: the strongest check there is.
  const known = (await readHistory(ctx.ports.store, ctx.env.name)).find((e) => e.sha === sha);
  const published = known ? await fetchRelease(registry, owner, sha, known.manifest.sha256) : await findPublishedRelease(registry, owner, sha);
  if (published) return { sha, kind: 'published', release: published };
  if (publishedOnly) {
    throw new VezaError(`release ${sha} is not published in ${registry.describe()}, and this deploy packages nothing (it deploys only published releases)`,
      `publish it first: the build job of .forgejo/workflows/deploy.yml does, with ${releaseCommand(ctx.env.name, sha)}; then deploy again`, 'UNPUBLISHED_RELEASE');
  }
  const workspace = built ?? (await resolveBuildVersion(ctx.root, ctx.processEnv, ctx.runner));
  if (workspace !== sha) {
    throw new VezaError(`release ${sha} is not published in ${registry.describe()}, and this workspace builds ${workspace}`,
      `publish it (${releaseCommand(ctx.env.name, sha)} from a checkout of ${sha}), or check out ${sha} and deploy again (or set ${RELEASE_SHA_ENV})`, 'UNKNOWN_RELEASE');
  }
  return { sha, kind: 'workspace' };
}

function checkVersion(v: string, allowLocal: boolean, env: string): string {
  try {
    return validate.version(v, allowLocal);
  } catch (e) {
    if (!allowLocal && typeof v === 'string' && v.startsWith('local-')) {
      throw new VezaError(`the workspace has uncommitted changes (version ${v}), and ${env}'s registry accepts only commit shas`, 'commit (or stash) your changes, then deploy again', 'DIRTY_RELEASE');
    }
    throw e;
  }
}

/** Deploys a checked release to the inactive colour; full rollback uses it too. Any failure sets the last-failure metric. */
export interface PlaceOptions {
  rollback: boolean;
  /** Overrides the environment's bake.seconds. */
  bake?: number;
  /** Stop before E: the release waits on the inactive colour, probed, for promote (deploy --no-switch). */
  noSwitch?: boolean;
}

export async function placeRelease(ctx: Context, checked: CheckedRelease, scope: ActionScope, opts: PlaceOptions): Promise<ActionResult<DeployResult>> {
  // What served before this action, for every hook of it (VEZA_PREVIOUS_RELEASE).
  // Read once under the lock (each read is an incus exec on Incus): the hooks' facts and the no-op test both use it.
  const current = await currentRelease(ctx.ports.store, ctx.env.name);
  const hook = hooksOf(ctx, checked, scope, current.entry?.sha);
  // Before anything changes: a refusal here is no failed deploy, only an audited one.
  const refused = hookFailed(await hook('pre-deploy', { color: otherColor(current.color) }));
  if (refused) throw refused;
  try {
    return await place(ctx, checked, scope, opts, hook, current);
  } catch (e) {
    await recordDeployMetrics(ctx.ports.store, ctx.env.name, { outcome: 'failure', time: new Date() })
      .catch((m) => ctx.log.warn(`could not record the failure metric: ${describeError(m)}`));
    // Its own failure is only a warning: the deploy's error is the one to report.
    await hook('on-failure', { color: scope.to ?? undefined, outcome: 'failure' });
    throw e;
  }
}

/** The hooks of one action on `release`, each run with the facts it shares. */
export function hooksOf(ctx: Context, release: Pick<CheckedRelease, 'sha' | 'hooks'>, scope: ActionScope, previousRelease: string | undefined): FireHook {
  return (event, facts) => fireHook(ctx, release, scope, event, { previousRelease, ...facts });
}

/**
 * Runs one of the workspace's hooks, if it has it, with the facts of this
 * action; logs and records the run in the action's audit line. A dry-run
 * only says it would run.
 */
async function fireHook(ctx: Context, checked: Pick<CheckedRelease, 'sha' | 'hooks'>, scope: ActionScope, event: HookEvent, facts: Partial<HookFacts>): Promise<HookRun | undefined> {
  const path = checked.hooks[event];
  if (!path) return undefined;
  if (ctx.plan) {
    ctx.progress.step(`[plan] run the ${event} hook (${HOOKS_DIR}/${event})`);
    return undefined;
  }
  const all: HookFacts = { env: ctx.env.name, release: checked.sha, actor: currentActor(ctx.processEnv).user, ...facts };
  const run = await runHook(ctx.runner, hookCommand(path, event, all, ctx.root, ctx.env.hooks.timeoutSeconds * 1_000), event);
  (scope.hooks ??= []).push(run);
  if (run.exitCode === 0) ctx.progress.step(describeHookRun(run));
  else ctx.log.warn(describeHookRun(run));
  return run;
}

export function hookFailed(run: HookRun | undefined): VezaError | undefined {
  if (!run || run.exitCode === 0) return undefined;
  return new VezaError(describeHookRun(run), `fix ${HOOKS_DIR}/${run.event} (run it by hand with the VEZA_* variables its audit line shows), then deploy again`, 'HOOK_FAILED');
}

export type FireHook = (event: HookEvent, facts: Partial<HookFacts>) => Promise<HookRun | undefined>;

async function place(ctx: Context, checked: CheckedRelease, scope: ActionScope, opts: PlaceOptions, hook: FireHook, current: Awaited<ReturnType<typeof currentRelease>>): Promise<ActionResult<DeployResult>> {
  const { env, progress } = ctx;
  const { store, edge, tier } = ctx.ports;
  const registry = ctx.ports.registry();

  const release = await progress.phase('release', 'release manifest', async (p) => {
    const publishing = ctx.plan ? 'to be published' : 'published';
    if (checked.kind === 'published') {
      p.note(`published ${checked.release.ref.owner}/${checked.release.ref.package}@${checked.sha} (sha256 ${checked.release.ref.sha256.slice(0, 12)}…)`);
      return checked.release;
    }
    for (const [name, c] of Object.entries(checked.release.manifest.components)) {
      const status = await registry.upload(coordsOf(c), checked.packaged[name]!, c.sha256);
      p.step(`${name}: ${c.package}@${c.version} ${c.sha256.slice(0, 12)}… ${status === 'exists' ? 'already published' : publishing}`);
    }
    const { release: r, status } = await publishRelease(registry, env.registry.owner, checked.release.manifest);
    p.note(status === 'exists' ? 'already published, identical' : `${publishing} beside the artifacts`);
    return r;
  });
  const sha = release.manifest.sha;
  // The release decides how its slots run and are checked and routed, not the workspace of the deployer.
  const declarations = releaseDeclarations(release.manifest, ctx.components);
  const result = (outcome: 'success' | 'noop', color: Color, previousColor: Color): DeployResult =>
    ({ outcome, env: env.name, sha, color, previousColor, publicUrl: env.publicUrl, dryRun: Boolean(ctx.plan) });

  if (current.entry?.sha === sha && current.entry.manifest.sha256 === release.ref.sha256) {
    const problems = await colorProblems(ctx, current.color, current.entry);
    if (problems.length === 0) {
      await progress.phase('edge', 'edge', async (p) => {
        await edge.ensureUp();
        p.note(`${edge.name} serves ${current.color}`);
      });
      Object.assign(scope, { from: current.color, to: current.color });
      return { outcome: 'noop', value: result('noop', current.color, current.color), message: `release ${sha} is already deployed on ${current.color}, healthy: ${env.publicUrl}` };
    }
    progress.step(`release ${sha} is recorded on ${current.color}, but ${problems.join('; ')}: deploying it again`);
  }

  await progress.phase('diff', 'what changes', async (p) => {
    const { diff, against } = await diffAgainstLive(ctx, current.entry, { manifest: release.manifest, declarations }, async (c) => checked.verified[c]!);
    for (const line of describeDiff(diff)) p.step(line);
    p.note(against);
  });

  const artifacts = await progress.phase('fetch', 'fetch artifacts', async (p) => {
    const fetched = await fetchArtifacts(registry, artifactCacheDir(ctx.root, env.name), release.manifest, { plan: ctx.plan && ((step) => ctx.plan!.add(step)), step: p.step, verified: checked.verified });
    p.note(`${Object.keys(fetched).length} artifact(s), sha256 verified`);
    return fetched;
  });

  await progress.phase('edge', 'edge', async (p) => {
    await edge.ensureUp();
    p.note(await recoverInterrupted(ctx, p.step));
  });

  const pipeline: PipelineVars = {};
  if (needsPipelineVars(declarations)) {
    await progress.phase('data', 'data tier', async (p) => {
      // Provisioning is idempotent and takes the pre-deploy-<sha> snapshot (kept if infra-data:provision took it already).
      const plan = await tier.provision({ release: sha }).catch(async (e: unknown) => {
        throw await withLostDatabase(ctx, e);
      });
      p.note(plan.steps.length ? `${plan.steps.length} step(s): ${plan.summary}` : plan.notes.join('; ') || plan.summary);
      pipeline.DATABASE_URL = await tier.databaseUrl();
      Object.assign(pipeline, await tier.serviceEnv?.());
    });
  } else {
    progress.skip('data', 'data tier', 'no component uses it');
  }

  const { driver } = ctx.ports;
  if (driver.prepare) {
    const slots = declarations.map((c) => ({ component: c.name, needs: c.run.needs }));
    await progress.phase('images', 'runtime images', async (p) => p.note(await driver.prepare!(slots, p.step)));
  }

  await progress.phase('A', 'migrations', (p) => runMigrations(ctx, release, artifacts, pipeline, p));

  const { prior, target } = await progress.phase('B', 'inactive colour', async (p) => {
    const active = await readActiveColor(store, env.name);
    p.note(`${active} serves; deploying to ${otherColor(active)}`);
    return { prior: active, target: otherColor(active) };
  });
  Object.assign(scope, { from: prior, to: target });

  const rec: ReleaseRecord = { sha, color: target, actor: currentActor(ctx.processEnv).user, manifest: release.ref, declarations };
  await recordStart(store, env.name, rec, { retention: env.retention.history });
  try {
    await progress.phase('C', `slots (${target})`, (p) => recreateSlots(ctx, target, release, artifacts, pipeline, p));
    await progress.phase('D', 'probe from edge', (p) => probeFromEdge(ctx, target, declarations, p));
  } catch (e) {
    return failure(ctx, rec)(e, 'its health checks', `the edge was not switched and still serves ${prior}`);
  }

  if (opts.noSwitch) {
    if (env.previewHosts.length) {
      try {
        await progress.phase('preview', 'verify at the preview host', (p) => verifyPublic(ctx, target, sha, declarations, p, new URL(previewUrl(env))));
      } catch (e) {
        return failure(ctx, rec)(e, 'the verification at the preview host', `the edge was not switched and still serves ${prior}`);
      }
    }
    await progress.phase('record', 'record', async (p) => {
      await recordPreview(store, env.name, rec, { retention: env.retention.history });
      p.note(`${target} holds ${sha} for preview; ${prior} still serves`);
    });
    const where = env.previewHosts.length ? `at ${previewUrl(env)}` : '(no previewHosts in the environment file: on its slots only)';
    return {
      outcome: 'success',
      value: { outcome: 'success', env: env.name, sha, color: target, previousColor: prior, publicUrl: env.publicUrl, dryRun: Boolean(ctx.plan) },
      message: `release ${sha} is up on ${target} for preview ${where}; ${prior} still serves ${env.publicUrl} — go live with: npx veza promote --env=${env.name}`,
    };
  }
  return goLive(ctx, { rec, declarations, prior, keep: Object.values(artifacts).map((a) => a.sha256), rollback: opts.rollback, bake: opts.bake }, hook);
}

/** The first preview host, on the public URL's scheme and port. */
export function previewUrl(env: Context['env']): string {
  const url = new URL(env.publicUrl);
  url.hostname = env.previewHosts[0]!;
  return url.origin;
}

/** A release whose slots run healthy on the inactive colour, about to serve: E onwards. */
export interface GoLive {
  rec: ReleaseRecord;
  declarations: RuntimeDeclaration[];
  /** The colour serving until the switch. */
  prior: Color;
  /** The sha256 of the release's artifacts: what the cache keeps. */
  keep: string[];
  rollback: boolean;
  bake?: number;
}

/**
 * E switch → post-switch hook → F verify → bake → record → post-deploy
 * hook: the end of a deploy, and the whole of a promote. Any failure after
 * the switch switches back to `prior`.
 */
export async function goLive(ctx: Context, g: GoLive, hook: FireHook): Promise<ActionResult<DeployResult>> {
  const { env, progress } = ctx;
  const { store, edge, tier } = ctx.ports;
  const { rec, declarations, prior } = g;
  const { sha, color: target } = rec;
  const retention = env.retention.history;
  const failed = failure(ctx, rec);
  try {
    await progress.phase('E', `switch edge to ${target}`, async (p) => {
      await edge.switchTo(target, { sha, renewed: true });
      p.note(`${edge.name} serves ${target}`);
    });
  } catch (e) {
    return failed(e, 'the edge switch', `the edge still serves ${prior} (a failed switch restores what it served)`);
  }

  const switchBack = () => progress.phase('revert', `switch back to ${prior}`, async (p) => {
    // Forced: on a first deploy the prior colour has no slots, and the edge served nothing before either.
    await edge.switchTo(prior, { sha: heldBy(await readHistory(store, env.name), prior)?.sha ?? sha, force: true });
    p.note(`${edge.name} serves ${prior} again`);
  }).then(() => `the edge was switched back to ${prior}`, (r) => `switching back to ${prior} failed too (${describeError(r)}): check the edge now`);

  const switched = hookFailed(await hook('post-switch', { color: target }));
  if (switched) return failed(switched, 'the post-switch hook', await switchBack());

  try {
    await progress.phase('F', 'verify', (p) => verifyPublic(ctx, target, sha, declarations, p));
  } catch (e) {
    return failed(e, 'the verification through the public URL', await switchBack());
  }

  const bake = { ...env.bake, ...(g.bake === undefined ? {} : { seconds: g.bake }) };
  if (bake.seconds > 0 && !ctx.plan) {
    try {
      await progress.phase('bake', `bake ${bake.seconds} s`, async (p) => {
        const figures = await bakeColor(edge, target, declarations, bake);
        p.note(figures.responses >= bake.minRequests ? describeBake(figures) : `${describeBake(figures)}: too little traffic to judge`);
      });
    } catch (e) {
      return failed(e, 'the post-switch gate', await switchBack());
    }
  } else {
    progress.skip('bake', 'bake', ctx.plan ? `would watch ${target}'s error ratio for ${bake.seconds} s` : 'off (bake.seconds is 0)');
  }

  await progress.phase('record', 'record', async (p) => {
    const previous = heldBy(await readHistory(store, env.name), prior)?.sha;
    await recordSuccess(store, env.name, rec, { retention, rollback: g.rollback });
    await recordDeployMetrics(store, env.name, { outcome: 'success', time: new Date(), activeColor: target, sha });
    // Only now, with the release live: the snapshots of it and of the one a rollback would return to always stay.
    if (needsPipelineVars(declarations)) {
      const pruned = await tier.pruneSnapshots(previous ? [sha, previous] : [sha]);
      if (pruned.steps.length) p.step(pruned.summary);
    }
    // About the releases the history remembers: retention × components files.
    const pruned = ctx.plan ? [] : await pruneArtifactCache(artifactCacheDir(ctx.root, env.name), g.keep, retention * ctx.components.length);
    p.note(`history, metrics and audit of ${env.name}${pruned.length ? `; ${pruned.length} unused cached artifact(s) pruned` : ''}`);
  });
  await hook('post-deploy', { color: target, outcome: 'success' });
  const value: DeployResult = { outcome: 'success', env: env.name, sha, color: target, previousColor: prior, publicUrl: env.publicUrl, dryRun: Boolean(ctx.plan) };
  return { outcome: 'success', value, message: `release ${sha} is live on ${target}: ${env.publicUrl}` };
}

/** How a deploy of `rec` fails once its colour is touched: the release is marked failed there, its slots kept, and the error says where. */
function failure(ctx: Context, rec: ReleaseRecord) {
  const { env } = ctx;
  const { sha, color: target } = rec;
  return async (e: unknown, where: string, edgeState: string): Promise<never> => {
    await recordFailure(ctx.ports.store, env.name, rec, { retention: env.retention.history });
    const logs = e instanceof SlotError ? `; ${logsHint(ctx, e.slot)}` : '';
    throw new VezaError(`deploying ${sha} to ${target} failed in ${where}: ${isVezaError(e) ? e.message : describeError(e)}`,
      `${edgeState}; the ${target} slots are kept for forensics${logs}; remove them with nx run infra-deploy:cleanup --env=${env.name} --color=${target}`,
      isVezaError(e) ? e.code : 'DEPLOY_FAILED');
  };
}

/**
 * A deploy killed after switching but before its verification leaves the
 * edge on a colour holding an unverified (`deploying`) release. Do what that
 * deploy's failure path would have done: switch back to the other colour,
 * when it holds a good release that still runs, and mark the release failed.
 */
async function recoverInterrupted(ctx: Context, step: (m: string) => void): Promise<string> {
  const { store, edge } = ctx.ports;
  const env = ctx.env.name;
  const active = await readActiveColor(store, env);
  const history = await readHistory(store, env);
  const held = heldBy(history, active);
  if (held?.outcome !== 'deploying') return `${edge.name} serves ${active}`;
  const other = otherColor(active);
  const good = heldBy(history, other);
  if (good?.outcome !== 'active') return `${edge.name} serves ${active} (an interrupted deploy of ${held.sha}; no good release to return to)`;
  const problems = await colorProblems(ctx, other, good);
  if (problems.length) return `${edge.name} serves ${active} (an interrupted deploy of ${held.sha}; ${other} cannot take over: ${problems.join('; ')})`;
  step(`a deploy of ${held.sha} was interrupted after switching to ${active}: switching back to ${other} (${good.sha})`);
  await edge.switchTo(other, { sha: good.sha });
  await recordFailure(store, env, { sha: held.sha, color: active, actor: held.actor, manifest: held.manifest, declarations: held.declarations }, { retention: ctx.env.retention.history });
  return `${edge.name} serves ${other} again (${good.sha})`;
}
