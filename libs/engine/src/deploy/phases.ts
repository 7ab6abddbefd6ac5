import type { RuntimeDeclaration } from '../config/component';
import type { Color } from '../config/names';
import { slotName } from '../hosts/naming';
import { VezaError, describeError, isVezaError } from '../log/errors';
import { formatArgv } from '../ports/process';
import type { FetchedArtifacts } from './artifacts';
import type { Context } from './context';
import type { HistoryEntry } from '../state/history';
import type { PhaseContext } from './progress';
import { releaseDeclarations, type Release } from './release';
import { healthTarget, slotSpec, slotVars, type PipelineVars } from './slots';
import { drainRetiredColor } from './tunnel-drain';

/**
 * The slot-touching phases of seed 001's deploy_app, each a function of the
 * context: A migrations from the tools slot, C the inactive colour's slots,
 * D the probe from the edge, F the external verification. A failure names
 * the slot it concerns, so the caller can print the one command that shows
 * that slot's logs.
 */
export class SlotError extends VezaError {
  constructor(readonly slot: string, cause: unknown) {
    super(isVezaError(cause) ? cause.message : describeError(cause), isVezaError(cause) ? cause.hint : 'read the slot log', isVezaError(cause) ? cause.code : 'SLOT_FAILED');
  }
}

/** The one command an operator pastes to read a slot's logs. */
export function logsHint(ctx: Context, slot: string): string {
  return `read the logs of ${slot}: ${formatArgv(ctx.ports.driver.logsCommand(slot))}`;
}

/** Phase A: every component's migrations, from its tools slot, before any colour changes. */
export async function runMigrations(ctx: Context, release: Release, artifacts: FetchedArtifacts, pipeline: PipelineVars, p: PhaseContext): Promise<void> {
  const { env } = ctx;
  const migrating = releaseDeclarations(release.manifest, ctx.components).filter((c) => c.migrations);
  if (migrating.length === 0) {
    p.note('no component declares migrations');
    return;
  }
  const outcomes: string[] = [];
  for (const c of migrating) {
    const spec = slotSpec(env, c, 'tools', release.manifest.sha, artifacts[c.name]!, slotVars(env, c, release.manifest.sha, 'tools', pipeline, ctx.processEnv));
    try {
      // Re-created every time, so the tools slot always holds the release whose migrations run (seed: pull the tarball again).
      await ctx.ports.driver.create(spec);
      const res = await ctx.ports.driver.exec(spec.name, { argv: c.migrations!.command, description: `apply ${c.name}'s migrations`, timeoutMs: 10 * 60_000 });
      const out = res.stdout.trim();
      if (out) p.step(`${c.name}: ${out.split('\n').join('; ')}`);
      outcomes.push(/^no changes$/m.test(out) ? 'no changes' : 'applied');
    } catch (e) {
      throw new SlotError(spec.name, await withLostDatabase(ctx, e));
    }
  }
  const names = migrating.map((c) => c.name).join(', ');
  p.note(ctx.plan ? `planned (${names})` : outcomes.every((o) => o === 'no changes') ? 'no pending migrations' : `migrations applied (${names})`);
}

/**
 * A migration or a provisioning step (the app role, after the settle wait)
 * that failed because the database went away (a crashed primary, a
 * failover): said so, with when to deploy again. The re-run is safe because
 * provisioning is idempotent and migrate_tool commits each file with its
 * record or not at all.
 */
export async function withLostDatabase(ctx: Context, e: unknown): Promise<unknown> {
  const why = await ctx.ports.tier.unwritable?.().catch(() => undefined);
  if (!why) return e;
  return new VezaError(`${isVezaError(e) ? e.message : describeError(e)}; the database of ${ctx.env.name} is not writable: ${why}`,
    'the edge was not touched and the live release still serves; deploy again: its data phase restarts what stopped and waits for a primary that answers, and each migration commits with its schema_migrations row or not at all, so the re-run applies only what is missing',
    'FORMATION_UNHEALTHY');
}

/**
 * Phase C: the inactive colour's slots are re-created from the release,
 * started, and each must answer its health path in time. Slots of
 * components the release no longer has are removed. The sessions the edge
 * still holds to the colour drain first (tunnel-drain.ts).
 */
export async function recreateSlots(ctx: Context, color: Color, release: Release, artifacts: FetchedArtifacts, pipeline: PipelineVars, p: PhaseContext): Promise<void> {
  const { env } = ctx;
  const { driver } = ctx.ports;
  const sha = release.manifest.sha;
  const deployed = releaseDeclarations(release.manifest, ctx.components);
  await drainRetiredColor(ctx, color, p);
  for (const s of await driver.list(env.name)) {
    if (s.role === color && !release.manifest.components[s.component]) {
      p.step(`removing ${s.name}: ${s.component} is not part of release ${sha}`);
      await driver.delete(s.name);
    }
  }
  const wait = { timeoutMs: env.health.timeoutMs, intervalMs: env.health.intervalMs };
  // Side by side: a release's slots are independent, and one after another their start-up times add up.
  await all(deployed, async (c) => {
    const spec = slotSpec(env, c, color, sha, artifacts[c.name]!, slotVars(env, c, sha, color, pipeline, ctx.processEnv));
    await guard(spec.name, async () => {
      await driver.create(spec);
      await driver.start(spec.name);
    });
    p.step(`${spec.name} started on ${spec.bind.host}:${spec.bind.port}`);
    await guard(spec.name, () => ctx.ports.checks.waitHealthy(healthTarget(env, c, color), wait));
  });
  p.note(`${deployed.length} slot(s) healthy on ${color}`);
}

/** Phase D: the edge host itself reaches every routed slot of `color`, on the health paths of the release it now holds. */
export async function probeFromEdge(ctx: Context, color: Color, components: RuntimeDeclaration[], p: PhaseContext): Promise<void> {
  const routed = components.filter((c) => c.edge !== null);
  // As long as a slot may take to come up: a re-created slot answers from inside before the edge's path to it
  // (its name's new address, the edge's neighbour entry for a reused one) has settled, on Incus for seconds.
  const wait = { timeoutMs: ctx.env.health.timeoutMs, intervalMs: ctx.env.health.intervalMs };
  await all(routed, (c) => guard(slotName(ctx.env, c.name, color), () => ctx.ports.checks.fromEdge(healthTarget(ctx.env, c, color), wait)));
  p.note(`${routed.length} slot(s) reachable from edge ${ctx.ports.edge.name}`);
}

/** How long the edge may take to see a preview colour's servers up once its slots answer. */
const PREVIEW_UP_MS = 15_000;

/** Phase F: through the public URL (or `url`, another origin of the edge: the preview), every component with a status document reports the release. */
export async function verifyPublic(ctx: Context, color: Color, sha: string, components: RuntimeDeclaration[], p: PhaseContext, url?: URL): Promise<void> {
  const checked = verifiable(components);
  const { retries, intervalMs } = ctx.env.verify;
  // The preview's servers were down until phase C, and the edge sees them up only after two checks (render.ts: downinter 1s, rise 2).
  const retry = { retries: url ? Math.max(retries, Math.ceil(PREVIEW_UP_MS / intervalMs)) : retries, intervalMs };
  await all(checked, (c) => guard(slotName(ctx.env, c.name, color), async () => {
    try {
      await ctx.ports.checks.publicRelease(c.name, c.run.status!, sha, retry, url?.host);
    } catch (e) {
      throw await withEdgeView(ctx, e, color, c, url !== undefined);
    }
  }));
  p.note(`${url?.origin ?? ctx.env.publicUrl} serves ${sha} (${checked.map((c) => c.name).join(', ')})`);
}

/**
 * A verification that failed, with what the edge itself sees of the colour's servers: a slot that passed its
 * own checks yet is not served is the edge's doing (a server down on its checks, still at an old address),
 * and "HTTP 503" alone does not say which. The edge's answer is a clue, never the failure: unreadable, it is left out.
 */
async function withEdgeView(ctx: Context, e: unknown, color: Color, c: RuntimeDeclaration, preview: boolean): Promise<unknown> {
  if (!isVezaError(e) || e.code !== 'VERIFY_FAILED') return e;
  const view = await ctx.ports.edge.serverView(color, c, preview).catch(() => undefined);
  return view ? new VezaError(`${e.message}; the edge sees ${view}`, e.hint, e.code) : e;
}

function verifiable(components: RuntimeDeclaration[]): RuntimeDeclaration[] {
  return components.filter((c) => c.edge !== null && c.run.status !== undefined);
}

/**
 * Whether `color` runs `sha` for every component, each slot up and
 * answering its health path: the "already deployed" test, and what a fast
 * rollback requires of the colour it flips to. `held` is the history entry
 * of what the colour holds: its declarations say which components and which
 * health paths. Returns what is wrong, or [] when all is well.
 */
export async function colorProblems(ctx: Context, color: Color, held: HistoryEntry): Promise<string[]> {
  const { sha } = held;
  const slots = await ctx.ports.driver.list(ctx.env.name);
  const problems: string[] = [];
  await all(heldDeclarations(ctx, held), async (c) => {
    const name = slotName(ctx.env, c.name, color);
    const s = slots.find((x) => x.name === name);
    if (!s) problems.push(`${name} does not exist`);
    // An unread state (`unknown`) is no reason to refuse: the in-slot health probe below decides.
    else if (s.state !== 'running' && s.state !== 'unknown') problems.push(`${name} is ${s.state}`);
    else if (s.release !== sha) problems.push(`${name} runs ${s.release ?? 'an unknown release'}, not ${sha}`);
    else if (!(await ctx.ports.checks.isHealthy(healthTarget(ctx.env, c, color)))) problems.push(`${name} does not answer ${c.run.health}`);
  });
  return problems.sort();
}

/** What a colour's history entry says it runs; the workspace's declarations for an entry written before they were recorded. */
export function heldDeclarations(ctx: Context, held: HistoryEntry): RuntimeDeclaration[] {
  return held.declarations ?? ctx.components;
}

async function guard(slot: string, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    throw e instanceof SlotError ? e : new SlotError(slot, e);
  }
}

/** Runs every check; the first failure (in component order) is the one reported. */
async function all<T>(items: T[], fn: (item: T) => Promise<void>): Promise<void> {
  const results = await Promise.allSettled(items.map(fn));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}
