import type { FormationState } from './formation';

/**
 * Prometheus textfile-collector files (node_exporter's
 * --collector.textfile.directory): the restore drill's outcome, the last
 * backups and the formation's health, as the alert rules in
 * infra/prometheus/veza-data.rules.yml read them.
 */
export interface DrillOutcome {
  env: string;
  success: boolean;
  finishedAt: Date;
  durationSeconds: number;
  restoredRows: number;
  schemaVersion?: string;
}

const label = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
const seconds = (d: Date) => Math.floor(d.getTime() / 1000);

function gauge(name: string, help: string, samples: [string, number][]): string[] {
  return [`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, ...samples.map(([labels, v]) => `${name}{${labels}} ${v}`)];
}

export function renderDrillMetrics(o: DrillOutcome): string {
  const l = `env="${label(o.env)}"`;
  return [
    ...gauge('veza_backup_drill_success', 'Whether the last restore drill restored the latest backup and found the expected rows (1) or not (0).', [[l, o.success ? 1 : 0]]),
    ...gauge('veza_backup_drill_last_run_timestamp_seconds', 'When the last restore drill finished, pass or fail.', [[l, seconds(o.finishedAt)]]),
    ...gauge('veza_backup_drill_duration_seconds', 'Wall-clock time of the last restore drill: the measured restore time.', [[l, o.durationSeconds]]),
    ...gauge('veza_backup_drill_restored_rows', 'Rows the last drill counted in its check table.', [[l, o.restoredRows]]),
    ...gauge('veza_backup_drill_schema_version_info', 'The schema version the last drill found (schema_migrations).', [[`${l},version="${label(o.schemaVersion ?? '')}"`, 1]]),
    '',
  ].join('\n');
}

export function renderBackupMetrics(env: string, last: { type: string; stoppedAt: Date }[]): string {
  const samples = last.map((b): [string, number] => [`env="${label(env)}",type="${label(b.type)}"`, seconds(b.stoppedAt)]);
  return [...gauge('veza_backup_last_success_timestamp_seconds', 'When the newest backup of each type completed.', samples), ''].join('\n');
}

export function renderFormationMetrics(env: string, f: FormationState): string {
  const l = `env="${label(env)}"`;
  return [
    ...gauge('veza_pg_formation_healthy', 'Whether the formation has one primary and every other node a healthy secondary.', [[l, f.healthy ? 1 : 0]]),
    ...gauge('veza_pg_formation_nodes', 'Data nodes registered with the monitor.', [[l, f.nodes.length]]),
    ...gauge('veza_pg_formation_nodes_healthy', 'Data nodes whose health check passes.', [[l, f.nodes.filter((n) => n.healthy).length]]),
    ...gauge('veza_pg_replication_lag_bytes', 'How far each standby is behind the primary, by reported LSN.', f.nodes.flatMap((n): [string, number][] => (n.lagBytes === undefined ? [] : [[`${l},node="${label(n.name)}"`, n.lagBytes]]))),
    '',
  ].join('\n');
}

/** Reads one sample of a textfile back (for status); undefined when the file or the metric is missing. */
export function readSample(text: string | undefined, name: string): number | undefined {
  const line = text?.split('\n').find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  const v = line === undefined ? NaN : Number(line.slice(line.lastIndexOf(' ') + 1));
  return Number.isFinite(v) ? v : undefined;
}
