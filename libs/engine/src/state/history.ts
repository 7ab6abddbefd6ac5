import { z } from 'zod';
import { runtimeDeclarationSchema, type RuntimeDeclaration } from '../config/component';
import { PATTERNS, otherColor, validate, type Color } from '../config/names';
import { VezaError } from '../log/errors';
import { validateCoords, validateSha256 } from '../registry/coords';
import type { ReleaseManifestRef } from '../release/manifest';
import type { StateStore } from '../ports/state-store';

/**
 * The single source of truth for which colour serves an environment and what
 * each colour holds (seed 001 phase B, seed 003's per-env state files):
 *
 * - `active-color-<env>`: one line, `blue` or `green`; absent means blue
 *   (first deploy goes to green). The edge switch writes it the moment the
 *   edge serves another colour (writeActiveColor), so it never lags the edge.
 * - `history-<env>.json`: releases placed on a colour, newest first, capped at
 *   the environment's retention.history. Every deploy adds one entry (a fast
 *   rollback too, so the newest entry of a colour is always what it holds).
 *
 * Outcomes: `deploying` is written before a deploy touches the colour's
 * slots and replaced when it ends, so a deploy killed half-way leaves the
 * colour marked as holding an unverified release rather than the one it held
 * before; `active` went live and verified; `failed` never went (or stayed)
 * live — its slots are kept for forensics; `previewed` runs, probed, on the
 * inactive colour (deploy --no-switch) until promote; `rolled-back` went live and was
 * then rolled back away from. Fast rollback only flips to a colour whose
 * newest entry is `active`.
 */
const DEFAULT_HISTORY_RETENTION = 5;

const release = z.string().refine((s) => PATTERNS.sha.test(s) || PATTERNS.localVersion.test(s), 'must be a 40-hex sha or local-<12 hex>');

const manifestRefSchema = z.object({ owner: z.string(), package: z.string(), version: z.string(), file: z.string(), sha256: z.string() });

const historyEntrySchema = z.object({
  sha: release,
  color: z.enum(['blue', 'green']),
  time: z.string(),
  actor: z.string(),
  /** Where the release manifest is published and its sha256: what a full rollback redeploys from. */
  manifest: manifestRefSchema,
  outcome: z.enum(['deploying', 'previewed', 'active', 'failed', 'rolled-back']),
  /**
   * How the release's components run and are routed (its manifest's
   * declarations): the edge renders each colour's servers, and the active
   * colour's checks and routes, from what the colour holds. Absent in entries
   * written before it was recorded; the workspace's declarations stand in.
   */
  declarations: z.array(runtimeDeclarationSchema).optional(),
});

export type HistoryEntry = z.infer<typeof historyEntrySchema>;

const historyFileSchema = z.object({
  schema: z.literal(1),
  env: z.string().regex(PATTERNS.env),
  entries: z.array(historyEntrySchema),
});

export interface ReleaseRecord {
  sha: string;
  color: Color;
  actor: string;
  manifest: ReleaseManifestRef;
  declarations?: RuntimeDeclaration[];
  time?: Date;
}

export interface RecordOptions {
  /** env.retention.history */
  retention?: number;
}

export function activeColorKey(env: string): string {
  return `active-color-${validate.env(env)}`;
}

export function historyKey(env: string): string {
  return `history-${validate.env(env)}.json`;
}

export async function readActiveColor(store: StateStore, env: string): Promise<Color> {
  const key = activeColorKey(env);
  const text = await store.read(key);
  if (text === undefined) return 'blue';
  const color = text.trim();
  if (!PATTERNS.color.test(color)) {
    throw new VezaError(
      `${store.location}/${key} holds ${JSON.stringify(color.slice(0, 40))}, not blue or green`,
      `write the colour the edge actually serves into it (check with nx run infra-deploy:status --env=${env})`,
      'BAD_STATE',
    );
  }
  return color as Color;
}

/** Called by the edge switch right after the edge serves `color`, and on every recorded success. */
export async function writeActiveColor(store: StateStore, env: string, color: Color): Promise<void> {
  await store.write(activeColorKey(env), validate.color(color) + '\n');
}

export async function readHistory(store: StateStore, env: string): Promise<HistoryEntry[]> {
  const key = historyKey(env);
  const text = await store.read(key);
  if (text === undefined) return [];
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    raw = undefined;
  }
  const parsed = historyFileSchema.safeParse(raw);
  if (!parsed.success || parsed.data.env !== env) {
    const why = parsed.success ? `it belongs to env ${parsed.data.env}` : parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new VezaError(
      `${store.location}/${key} is not a valid deploy history (${why})`,
      'restore it from a backup, or remove it (rollback then needs an explicit --sha until the next deploys rebuild it)',
      'BAD_STATE',
    );
  }
  return parsed.data.entries;
}

/** A deploy of `rec.sha` is about to replace what `rec.color` holds. */
export async function recordStart(store: StateStore, env: string, rec: ReleaseRecord, opts: RecordOptions = {}): Promise<HistoryEntry[]> {
  const entry = toEntry(rec, 'deploying');
  return writeHistory(store, env, [entry, ...(await readHistory(store, env))], opts.retention);
}

/**
 * A release went live on `color`. With `rollback`, the release it replaces is
 * marked rolled-back, so neither a fast rollback nor previousGood goes back to it.
 */
export async function recordSuccess(store: StateStore, env: string, rec: ReleaseRecord, opts: RecordOptions & { rollback?: boolean } = {}): Promise<HistoryEntry[]> {
  const entry = toEntry(rec, 'active');
  const entries = await readHistory(store, env);
  if (opts.rollback) {
    // What served before is on the other colour: releases always go live on the inactive one. Not read from
    // the active-colour file, which the edge switch has already pointed at rec.color by the time this runs.
    const replaced = entries.find((e) => e.color === otherColor(entry.color));
    if (replaced?.outcome === 'active') replaced.outcome = 'rolled-back';
  }
  const next = await writeHistory(store, env, settle(entries, entry), opts.retention);
  await writeActiveColor(store, env, entry.color);
  return next;
}

/** A release failed on `color` (the edge stays on, or went back to, the other colour). */
export async function recordFailure(store: StateStore, env: string, rec: ReleaseRecord, opts: RecordOptions = {}): Promise<HistoryEntry[]> {
  const entry = toEntry(rec, 'failed');
  return writeHistory(store, env, settle(await readHistory(store, env), entry), opts.retention);
}

/** A deploy with --no-switch brought `rec.color` up and stopped before the switch: the release waits there for promote. */
export async function recordPreview(store: StateStore, env: string, rec: ReleaseRecord, opts: RecordOptions = {}): Promise<HistoryEntry[]> {
  return writeHistory(store, env, settle(await readHistory(store, env), toEntry(rec, 'previewed')), opts.retention);
}

/** The outcome replaces the `deploying` (or, on promote, `previewed`) entry left for the same release and colour. */
function settle(entries: HistoryEntry[], entry: HistoryEntry): HistoryEntry[] {
  const held = heldBy(entries, entry.color);
  const rest = (held?.outcome === 'deploying' || held?.outcome === 'previewed') && held.sha === entry.sha ? entries.filter((e) => e !== held) : entries;
  return [entry, ...rest];
}

/** What `color` holds now: the newest entry placed on it. */
export function heldBy(history: HistoryEntry[], color: Color): HistoryEntry | undefined {
  return history.find((e) => e.color === color);
}

/** The release serving the environment, when the active colour's newest entry went live. */
export async function currentRelease(store: StateStore, env: string): Promise<{ color: Color; entry?: HistoryEntry }> {
  const color = await readActiveColor(store, env);
  const entry = heldBy(await readHistory(store, env), color);
  return { color, entry: entry?.outcome === 'active' ? entry : undefined };
}

/** The newest release that went live and was not rolled back from, other than the current one: what a full rollback redeploys. */
export async function previousGood(store: StateStore, env: string): Promise<HistoryEntry | undefined> {
  const { entry: current } = await currentRelease(store, env);
  return (await readHistory(store, env)).find((e) => e !== current && e.outcome === 'active' && e.sha !== current?.sha);
}

/**
 * The colour a fast rollback flips to, and the release it holds; refuses,
 * pointing at --mode=full, when that colour holds nothing good. The caller
 * still checks that its slots exist, run and are healthy.
 */
export async function fastRollbackTarget(store: StateStore, env: string): Promise<{ from: Color; to: Color; entry: HistoryEntry }> {
  const from = await readActiveColor(store, env);
  const to = otherColor(from);
  const entry = heldBy(await readHistory(store, env), to);
  if (entry?.outcome === 'active') return { from, to, entry };
  const good = await previousGood(store, env);
  const full = good
    ? `use nx run infra-deploy:rollback --env=${env} --mode=full to redeploy the previous good release ${good.sha} from its manifest`
    : `there is no earlier good release recorded for ${env}; deploy a known-good sha with nx run infra-deploy:deploy --env=${env} --sha=<sha>`;
  const what = !entry
    ? `${to} holds no recorded release`
    : {
        failed: `${to} holds release ${entry.sha}, whose deploy failed at ${entry.time}`,
        previewed: `${to} holds release ${entry.sha}, deployed for preview at ${entry.time} and never promoted`,
        deploying: `${to} holds release ${entry.sha}, whose deploy started at ${entry.time} and never finished`,
        'rolled-back': `${to} holds release ${entry.sha}, which was rolled back at ${entry.time}`,
      }[entry.outcome];
  throw new VezaError(`cannot fast-rollback ${env} to ${to}: ${what}`, full, 'ROLLBACK_REFUSED');
}

function toEntry(rec: ReleaseRecord, outcome: HistoryEntry['outcome']): HistoryEntry {
  return {
    sha: validate.version(rec.sha, true),
    color: validate.color(rec.color),
    time: (rec.time ?? new Date()).toISOString(),
    actor: rec.actor,
    manifest: { ...validateCoords(rec.manifest, true), sha256: validateSha256(rec.manifest.sha256, 'the release manifest') },
    outcome,
    ...(rec.declarations ? { declarations: rec.declarations } : {}),
  };
}

async function writeHistory(store: StateStore, env: string, entries: HistoryEntry[], retention = DEFAULT_HISTORY_RETENTION): Promise<HistoryEntry[]> {
  if (!Number.isInteger(retention) || retention < 1) {
    throw new VezaError(`invalid history retention ${retention}`, 'set retention.history in the environment file to a whole number of at least 1', 'BAD_CONFIG');
  }
  const kept = entries.slice(0, retention);
  await store.write(historyKey(env), JSON.stringify({ schema: 1, env, entries: kept }, null, 2) + '\n');
  return kept;
}
