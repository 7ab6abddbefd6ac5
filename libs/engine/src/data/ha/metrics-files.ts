import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { localEnvDir } from '../../hosts/local/paths';
import { writeFileAtomic } from '../../util/atomic';
import type { FormationState } from './formation';
import { readSample, renderBackupMetrics, renderDrillMetrics, renderFormationMetrics, type DrillOutcome } from './metrics';
import type { HaStatus } from './operations';
import type { BackupInfo } from './pgbackrest';

/**
 * Where the HA topology's textfiles live on the machine that runs veza:
 * `.veza/envs/<env>/ha/metrics/`, whichever driver runs the formation (on
 * Incus veza runs on the host, as the pgBackRest repository requires), so
 * one node_exporter textfile directory serves both.
 */
export function haMetricsDir(workspaceRoot: string, env: string): string {
  return join(localEnvDir(workspaceRoot, env), 'ha', 'metrics');
}

/** The drill's, the backups' and the formation's textfiles of one environment, each replaced atomically. */
export class HaMetricsFiles {
  constructor(readonly dir: string, private readonly env: string) {}

  formation(f: FormationState): Promise<void> {
    return this.write('veza_pg_formation.prom', renderFormationMetrics(this.env, f));
  }

  /** The newest backup of each type, from pgBackRest's list (newest first). */
  backups(all: BackupInfo[]): Promise<void> {
    const newest = ['full', 'diff', 'incr'].flatMap((t) => all.find((b) => b.type === t) ?? []);
    return this.write('veza_backup.prom', renderBackupMetrics(this.env, newest));
  }

  /** A drill that began at `startedAt` (epoch ms) and ends now, pass or fail. */
  drill(o: { success: boolean; startedAt: number; restoredRows: number; schemaVersion?: string }): Promise<void> {
    const finishedAt = new Date();
    const outcome: DrillOutcome = { env: this.env, success: o.success, finishedAt, durationSeconds: (finishedAt.getTime() - o.startedAt) / 1000, restoredRows: o.restoredRows };
    return this.write('veza_backup_drill.prom', renderDrillMetrics(o.schemaVersion ? { ...outcome, schemaVersion: o.schemaVersion } : outcome));
  }

  /** The last drill as its textfile says; undefined before the first. */
  async lastDrill(): Promise<HaStatus['lastDrill']> {
    const text = await fs.readFile(join(this.dir, 'veza_backup_drill.prom'), 'utf8').catch(() => undefined);
    const at = readSample(text, 'veza_backup_drill_last_run_timestamp_seconds');
    return at === undefined ? undefined : { success: readSample(text, 'veza_backup_drill_success') === 1, at: new Date(at * 1000) };
  }

  private async write(file: string, text: string): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true });
    await writeFileAtomic(join(this.dir, file), text, { mode: 0o644 });
  }
}
