import { z } from 'zod';
import { PATTERNS, validate, type Color } from '../config/names';
import { VezaError } from '../log/errors';
import { redact } from '../log/redact';
import type { StateStore } from '../ports/state-store';
import { currentActor, type Actor } from '../state/actor';

/**
 * The append-only audit log: one JSON line per action, in the StateStore
 * shared by every environment of an edge (so `env` is on every line).
 * Lines are only ever appended, never rewritten: the log survives any crash
 * except for, at worst, its last line.
 */
export const AUDIT_KEY = 'audit.log';

const color = z.enum(['blue', 'green']);
const release = z.string().refine((s) => PATTERNS.sha.test(s) || PATTERNS.localVersion.test(s), 'must be a 40-hex sha or local-<12 hex>');

export const auditEntrySchema = z.object({
  time: z.string(),
  action: z.enum(['deploy', 'rollback', 'cleanup', 'switch', 'down', 'lock', 'unlock', 'promote']),
  env: z.string().regex(PATTERNS.env),
  sha: release.nullable(),
  from: color.nullable(),
  to: color.nullable(),
  outcome: z.enum(['success', 'failure', 'noop']),
  durationMs: z.number().int().min(0),
  user: z.string(),
  host: z.string(),
  message: z.string().optional(),
  /** The deploy hooks that ran (deploy/hooks.ts): exit code, time and the tail of their output. */
  hooks: z.array(z.object({ event: z.string(), exitCode: z.number().int(), durationMs: z.number().int().min(0), output: z.string() })).optional(),
});

export type AuditEntry = z.infer<typeof auditEntrySchema>;
export type AuditAction = AuditEntry['action'];
export type AuditOutcome = AuditEntry['outcome'];

export async function appendAudit(store: StateStore, entry: AuditEntry): Promise<void> {
  const parsed = auditEntrySchema.safeParse({ ...entry, message: entry.message === undefined ? undefined : redact(entry.message) });
  if (!parsed.success) {
    throw new VezaError(`invalid audit entry: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`, 'this is a bug in the caller; report it');
  }
  await store.append(AUDIT_KEY, JSON.stringify(parsed.data));
}

export interface AuditStart {
  action: AuditAction;
  env: string;
  sha?: string | null;
  from?: Color | null;
  to?: Color | null;
}

export interface AuditFinish {
  sha?: string | null;
  from?: Color | null;
  to?: Color | null;
  message?: string;
  hooks?: AuditEntry['hooks'];
}

/**
 * Starts timing an action; `finish` appends its one line. The start time and
 * actor are taken when the action begins, the duration when it ends.
 */
export function beginAudit(
  store: StateStore,
  start: AuditStart,
  opts: { now?: () => Date; actor?: Actor } = {},
): { finish(outcome: AuditOutcome, end?: AuditFinish): Promise<AuditEntry> } {
  // Checked now, not when the action ends: a bad argument must fail before the action's first side effect.
  validate.env(start.env);
  if (start.sha) validate.version(start.sha, true);
  if (start.from) validate.color(start.from);
  if (start.to) validate.color(start.to);
  const now = opts.now ?? (() => new Date());
  const actor = opts.actor ?? currentActor();
  const begun = now();
  return {
    async finish(outcome, end = {}) {
      const entry: AuditEntry = {
        time: begun.toISOString(),
        action: start.action,
        env: start.env,
        sha: end.sha ?? start.sha ?? null,
        from: end.from ?? start.from ?? null,
        to: end.to ?? start.to ?? null,
        outcome,
        durationMs: Math.max(0, now().getTime() - begun.getTime()),
        user: actor.user,
        host: actor.host,
        ...(end.message === undefined ? {} : { message: end.message }),
        ...(end.hooks?.length ? { hooks: end.hooks } : {}),
      };
      await appendAudit(store, entry);
      return entry;
    },
  };
}

/**
 * Entries newest first, optionally of one environment and at most `limit`.
 * A line that does not parse (the one a crash may have cut short) is skipped:
 * one bad line must not hide the rest of the log.
 */
export async function readAudit(store: StateStore, opts: { env?: string; limit?: number } = {}): Promise<AuditEntry[]> {
  if (opts.env !== undefined) validate.env(opts.env);
  const text = (await store.read(AUDIT_KEY)) ?? '';
  const out: AuditEntry[] = [];
  const lines = text.split('\n');
  for (let i = lines.length - 1; i >= 0 && (opts.limit === undefined || out.length < opts.limit); i--) {
    const entry = parseLine(lines[i]!);
    if (entry && (opts.env === undefined || entry.env === opts.env)) out.push(entry);
  }
  return out;
}

function parseLine(line: string): AuditEntry | undefined {
  if (!line.trim()) return undefined;
  try {
    const r = auditEntrySchema.safeParse(JSON.parse(line));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}
