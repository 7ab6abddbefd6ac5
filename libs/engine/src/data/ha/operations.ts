import type { FormationState } from './formation';
import type { BackupInfo, BackupType } from './pgbackrest';
import type { PoolRow } from './pgbouncer';
import type { HaSettings } from '../../config/environment';
import { renderTimerUnits, type TimerUnits } from '../../util/systemd';

/**
 * What `infra-data:status|failover|backup|drill` ask of an HA data tier,
 * whatever runs it (local processes or Incus containers).
 */
export interface HaStatus {
  formation?: FormationState;
  pools: PoolRow[];
  /** Newest first. */
  backups: BackupInfo[];
  lastDrill?: { success: boolean; at: Date };
}

export interface DrillResult {
  restoredRows: number;
  schemaVersion?: string;
  durationSeconds: number;
  /** Where the restored copy still runs, with --keep. */
  kept?: { pgdata: string; host: string; port: number };
}

export interface HaOperations {
  status(): Promise<HaStatus>;
  /** Planned switchover; resolves once the formation settled on the new primary. Returns its name. */
  switchover(): Promise<string>;
  backup(type: BackupType): Promise<BackupInfo>;
  drill(opts?: { keep?: boolean }): Promise<DrillResult>;
}

/** Seed 001: every backup and drill timer starts within a few random minutes, against clock skew and jobs colliding on the hour. */
export const BACKUP_JITTER = '5min';

/**
 * The seed's backup schedule as systemd timers: the weekly full, the daily
 * diff and the weekly restore drill, each a oneshot running its
 * infra-data target from the checkout at `workspaceRoot` with `npx`.
 */
export function renderBackupTimers(o: { env: string; backup: HaSettings['backup']; workspaceRoot: string; npx: string }): TimerUnits[] {
  const job = (what: string, target: string, onCalendar: string, description: string) => renderTimerUnits({
    name: `veza-${o.env}-${what}`, description, timerDescription: `${description}: ${onCalendar}`, workingDirectory: o.workspaceRoot,
    execStart: `${o.npx} nx run ${target} --env=${o.env}`, onCalendar, randomizedDelay: BACKUP_JITTER,
  });
  return [
    job('backup-full', 'infra-data:backup --type=full', o.backup.fullSchedule, `Full pgBackRest backup of ${o.env}`),
    job('backup-diff', 'infra-data:backup --type=diff', o.backup.diffSchedule, `Differential pgBackRest backup of ${o.env}`),
    job('drill', 'infra-data:drill', o.backup.drillSchedule, `Restore drill of ${o.env}'s latest backup`),
  ];
}

export function isHaOperations(x: object): x is HaOperations {
  return 'switchover' in x && 'drill' in x;
}

/** A tier that reports an HA formation (status is read from every tier; only the HA ones have it). */
export function reportsHaStatus(x: object): x is Pick<HaOperations, 'status'> {
  return typeof (x as { status?: unknown }).status === 'function';
}

function age(from: Date, now: Date): string {
  const s = Math.max(Math.round((now.getTime() - from.getTime()) / 1000), 0);
  if (s < 120) return `${s} s ago`;
  if (s < 7200) return `${Math.round(s / 60)} min ago`;
  if (s < 172_800) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86_400)} days ago`;
}

/** The lines `infra-data:status` prints. */
export function formatHaStatus(env: string, s: HaStatus, now = new Date()): string[] {
  const f = s.formation;
  const lines = [`formation of ${env}: ${!f ? 'monitor not answering' : f.healthy ? 'healthy' : `DEGRADED (${f.problems.join('; ')})`}`];
  for (const n of f?.nodes ?? []) {
    const role = n === f?.primary ? 'primary' : n.state;
    const lag = n.lagBytes === undefined ? '' : `, lag ${n.lagBytes} bytes`;
    lines.push(`  ${n.name} ${n.host}:${n.port} ${role}${n.state !== n.goal ? ` -> ${n.goal}` : ''}${n.healthy ? '' : ' (unreachable)'}${lag}`);
  }
  for (const p of s.pools) {
    lines.push(`  pool ${p.database}/${p.user} (${p.pool_mode}): ${p.cl_active} clients active, ${p.cl_waiting} waiting; ${p.sv_active} server connections active, ${p.sv_idle} idle`);
  }
  const [last] = s.backups;
  lines.push(last ? `last backup: ${last.type} ${last.label}, ${age(last.stoppedAt, now)}` : 'last backup: none');
  lines.push(s.lastDrill ? `last drill: ${s.lastDrill.success ? 'passed' : 'FAILED'}, ${age(s.lastDrill.at, now)}` : 'last drill: none');
  return lines;
}
