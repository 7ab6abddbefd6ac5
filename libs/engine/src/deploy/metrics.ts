import { z } from 'zod';
import { PATTERNS, validate, type Color } from '../config/names';
import { VezaError } from '../log/errors';
import type { StateStore } from '../ports/state-store';

/**
 * Deploy metrics for node_exporter's textfile collector (seed 001, phase F).
 *
 * One `.prom` file per environment: staging and prod deploy concurrently
 * (their locks are independent), so a shared file would lose updates. The
 * collector reads only `*.prom`, so the JSON holding the previous values sits
 * beside it; values are carried over from there, never parsed back out of
 * the exposition text.
 *
 * The active colour is one-hot (`color="blue"` 1, `color="green"` 0), the
 * Prometheus idiom for an enum: alerts and dashboards select by label
 * (`veza_deploy_active_color{color="green"} == 1`) instead of decoding numbers.
 */

const stateSchema = z.object({
  schema: z.literal(1),
  env: z.string().regex(PATTERNS.env),
  activeColor: z.enum(['blue', 'green']).optional(),
  sha: z.string().optional(),
  lastSuccessSeconds: z.number().optional(),
  lastFailureSeconds: z.number().optional(),
});

export type DeployMetricsState = z.infer<typeof stateSchema>;

export type DeployOutcomeUpdate =
  | { outcome: 'success'; time: Date; activeColor: Color; sha: string }
  /** After a failure the colour and release that still serve may be given; otherwise the previous ones stay. */
  | { outcome: 'failure'; time: Date; activeColor?: Color; sha?: string };

export function metricsKeys(env: string): { prom: string; state: string } {
  validate.env(env);
  return { prom: `metrics/veza-deploy-${env}.prom`, state: `metrics/veza-deploy-${env}.json` };
}

/** The next state: an update of one outcome keeps the other outcome's timestamp. */
export function applyUpdate(prev: DeployMetricsState | undefined, env: string, u: DeployOutcomeUpdate): DeployMetricsState {
  const seconds = u.time.getTime() / 1000;
  const next: DeployMetricsState = { schema: 1, env, ...stripEnv(prev) };
  if (u.activeColor !== undefined) next.activeColor = validate.color(u.activeColor);
  if (u.sha !== undefined) next.sha = validate.version(u.sha, true);
  if (u.outcome === 'success') next.lastSuccessSeconds = seconds;
  else next.lastFailureSeconds = seconds;
  return next;
}

function stripEnv(prev: DeployMetricsState | undefined): Partial<DeployMetricsState> {
  if (!prev) return {};
  const { schema: _s, env: _e, ...rest } = prev;
  return rest;
}

interface Family {
  name: string;
  help: string;
  samples: { labels: Record<string, string>; value: number }[];
}

/** The exposition text for one environment; families without a value yet are left out. */
export function renderMetrics(s: DeployMetricsState): string {
  const env = { env: s.env };
  const families: Family[] = [
    {
      name: 'veza_deploy_active_color',
      help: 'Colour serving the environment: 1 on the active colour, 0 on the other.',
      samples: s.activeColor ? (['blue', 'green'] as const).map((c) => ({ labels: { ...env, color: c }, value: c === s.activeColor ? 1 : 0 })) : [],
    },
    {
      name: 'veza_deploy_release_info',
      help: 'Release (git sha) the environment serves; always 1.',
      samples: s.sha ? [{ labels: { ...env, sha: s.sha }, value: 1 }] : [],
    },
    {
      name: 'veza_deploy_last_success_timestamp_seconds',
      help: 'Unix time of the last successful deploy or rollback.',
      samples: s.lastSuccessSeconds !== undefined ? [{ labels: env, value: s.lastSuccessSeconds }] : [],
    },
    {
      name: 'veza_deploy_last_failure_timestamp_seconds',
      help: 'Unix time of the last failed deploy or rollback.',
      samples: s.lastFailureSeconds !== undefined ? [{ labels: env, value: s.lastFailureSeconds }] : [],
    },
  ];
  const lines: string[] = [];
  for (const f of families) {
    if (!f.samples.length) continue;
    lines.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} gauge`);
    for (const sample of f.samples) lines.push(`${f.name}{${formatLabels(sample.labels)}} ${formatValue(sample.value)}`);
  }
  return lines.length ? lines.join('\n') + '\n' : '';
}

function formatLabels(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
    .join(',');
}

function formatValue(v: number): string {
  // Millisecond precision, no exponent: 1777456800.123
  return Number.isInteger(v) ? String(v) : v.toFixed(3).replace(/\.?0+$/, '');
}

export async function readMetricsState(store: StateStore, env: string): Promise<DeployMetricsState | undefined> {
  const key = metricsKeys(env).state;
  const text = await store.read(key);
  if (text === undefined) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    raw = undefined;
  }
  const parsed = stateSchema.safeParse(raw);
  if (!parsed.success || parsed.data.env !== env) {
    throw new VezaError(
      `${store.location}/${key} is not a valid metrics state file`,
      'remove it; it is rebuilt by the next deploy (only the previous success/failure times are lost)',
      'BAD_STATE',
    );
  }
  return parsed.data;
}

/**
 * Records a deploy outcome: state JSON first, then the .prom file, each
 * atomically, so a crash in between leaves a valid (if one-step-old) file
 * that the next update rewrites.
 */
export async function recordDeployMetrics(store: StateStore, env: string, update: DeployOutcomeUpdate): Promise<DeployMetricsState> {
  const keys = metricsKeys(env);
  const next = applyUpdate(await readMetricsState(store, env), env, update);
  await store.write(keys.state, JSON.stringify(next, null, 2) + '\n');
  await store.write(keys.prom, renderMetrics(next));
  return next;
}
