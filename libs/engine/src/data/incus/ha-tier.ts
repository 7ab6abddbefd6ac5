import { existsSync, promises as fs } from 'node:fs';
import type { Environment } from '../../config/environment';
import * as cli from '../../hosts/incus/cli';
import { describeError, VezaError } from '../../log/errors';
import type { Logger } from '../../log/logger';
import type { ProcessRunner } from '../../ports/process';
import { whyUnwritable, withPrimaryUnanswered } from '../ha/formation';
import { HaMetricsFiles, haMetricsDir } from '../ha/metrics-files';
import type { DrillResult, HaOperations, HaStatus } from '../ha/operations';
import { backupCommand, infoCommand, readBackupInfo, type BackupInfo, type BackupType } from '../ha/pgbackrest';
import { frontContainer, FRONT_CERT } from './minio-front';
import type { PoolRow } from '../ha/pgbouncer';
import { runnerTimerFiles, runnerTimers, runnerTimerSteps, type RunnerTimers } from '../ha/timers';
import { applyPlan, type DataPlan } from '../plan';
import type { ProvisionOptions } from '../port';
import { backrestArgv, backrestIn, DRILL_PGDATA, drillValue, formationSettledOnIncus, memberOf, planDrill, poolsOnIncus, repoName, readFormationOnIncus, switchoverCommand, takesWrites, type IncusPgHa, type IncusPgMember } from './pg-ha';
import { IncusDataTier, resolveSecrets } from './tier';

/** A restored copy with too few rows: the metrics keep the count it found. */
class DrillShortfall extends VezaError {
  constructor(table: string, readonly rows: number, minRows: number) {
    super(`the restored ${table} holds ${rows} rows, fewer than the ${minRows} expected`, 'the latest backup lacks data: check the backups and the archive (pgbackrest info)', 'DRILL_FAILED');
  }
}

/**
 * The Incus data tier in the HA topology: provisioning is the Incus tier's
 * own (pg-ha.ts plans the formation), and `infra-data:status` reads the
 * formation from the monitor and PgBouncer's pools, each from inside its
 * container, `infra-data:failover` switches over through the monitor and
 * `infra-data:backup` runs pgBackRest in the primary's container, into the
 * repository every node mounts, and `infra-data:drill` restores the latest
 * backup into a throw-away container. Status, backups and drills write
 * their textfile metrics on this host, as on local, and provision writes the
 * weekly drill's timer units here.
 */
export class IncusHaTier extends IncusDataTier implements HaOperations {
  private readonly metrics: HaMetricsFiles;
  /** The weekly drill's timer: it makes a container, so it runs on this host, not in a node. */
  private readonly drillTimer: RunnerTimers;

  constructor(env: Environment, runner: ProcessRunner, log: Logger, workspaceRoot: string) {
    super(env, runner, log);
    this.metrics = new HaMetricsFiles(haMetricsDir(workspaceRoot, env.name), env.name);
    this.drillTimer = runnerTimers(env.name, this.h.ha.backup, workspaceRoot, (name) => name === `veza-${env.name}-drill`);
  }

  /** The formation in its containers, then the drill's timer units on this host (linked by the operator, as the note says). */
  override async provision(opts: ProvisionOptions = {}): Promise<DataPlan> {
    const plan = await super.provision(opts);
    const files = Object.fromEntries(await Promise.all(runnerTimerFiles(this.drillTimer).map(async (f) => [f.path, await fs.readFile(f.path, 'utf8').catch(() => undefined)] as const)));
    const timer = runnerTimerSteps(this.drillTimer, files, existsSync(this.drillTimer.dir), `the restore drill's timer (${this.h.ha.backup.drillSchedule})`);
    if (!opts.dryRun && timer.steps.length) await applyPlan({ ...timer, summary: `drill timer of ${this.env.name} written` }, this.client.runner, this.log);
    return { steps: [...plan.steps, ...timer.steps], notes: [...plan.notes, ...timer.notes], summary: plan.summary };
  }

  private get h(): IncusPgHa {
    return this.pgHa()!;
  }

  async status(): Promise<HaStatus> {
    const read = await readFormationOnIncus(this.client, this.h);
    const primary = memberOf(this.h, read?.formation.primary);
    // The monitor names a crashed primary healthy until it gives up on it: the primary itself is asked.
    const formation = read && primary && !(await takesWrites(this.client, primary)) ? withPrimaryUnanswered(read.formation, this.h.ha.failover) : read?.formation;
    const backups = primary ? await this.backups(primary).catch(() => []) : [];
    if (formation) await this.metrics.formation(formation);
    const lastDrill = await this.metrics.lastDrill();
    return { formation, pools: await this.pools().catch(() => []), backups, ...(lastDrill ? { lastDrill } : {}) };
  }

  /** Why the formation takes no writes (no primary while it fails over, or a primary that does not answer from its container), or undefined. */
  async unwritable(): Promise<string | undefined> {
    return whyUnwritable(this.env.name, (await readFormationOnIncus(this.client, this.h))?.formation, this.h.ha.failover, async (primary) => {
      const member = memberOf(this.h, primary);
      return member !== undefined && (await takesWrites(this.client, member));
    });
  }

  /** The stanza's backups, newest first, as pgBackRest in `node`'s container reads the repository. */
  private async backups(node: IncusPgMember): Promise<BackupInfo[]> {
    const info = readBackupInfo(await this.client.output(node.container, backrestArgv(this.h, infoCommand()), { description: 'pgbackrest info', timeoutMs: 60_000 }));
    if (info instanceof Error) throw info;
    return info.reverse();
  }

  /** A pgBackRest backup from the primary's container; returns the new backup. */
  async backup(type: BackupType): Promise<BackupInfo> {
    const primary = memberOf(this.h, (await this.requireHealthy()).primary);
    await this.client.run(backrestIn(this.client, this.h, primary!.container, backupCommand(type), `pgbackrest backup --type=${type}`));
    const all = await this.backups(primary!);
    const newest = all[0];
    await this.metrics.backups(all);
    this.log.info(`${type} backup ${newest!.label} of ${this.env.name} stored in ${repoName(this.h)}`);
    return newest!;
  }

  /**
   * Restores the latest backup and the archive after it into a throw-away
   * container `<prefix>pg-drill`, starts it, counts the check table's rows
   * and reads the schema version; deletes the container unless `keep`.
   * Writes the drill's metrics, pass or fail (any failure: success 0).
   */
  async drill(opts: { keep?: boolean } = {}): Promise<DrillResult> {
    const started = Date.now();
    try {
      const result = await this.restoreAndCheck(opts, started);
      await this.metrics.drill({ success: true, startedAt: started, restoredRows: result.restoredRows, schemaVersion: result.schemaVersion });
      return result;
    } catch (e) {
      await this.metrics.drill({ success: false, startedAt: started, restoredRows: e instanceof DrillShortfall ? e.rows : 0 });
      throw e;
    }
  }

  private async restoreAndCheck(opts: { keep?: boolean }, started: number): Promise<DrillResult> {
    const { table, minRows } = this.h.ha.backup.drill;
    const container = cli.checkName('data container', `${this.env.prefix}pg-drill`);
    const primary = memberOf(this.h, (await this.requireHealthy()).primary)!;
    const backups = await this.backups(primary).catch((e: unknown) => {
      throw new VezaError(`the pgBackRest repository ${repoName(this.h)} cannot be read: ${describeError(e)}`, 'check the repository (pgbackrest info); restore it from its copy or take a new full backup', 'DRILL_FAILED');
    });
    if (backups.length === 0) throw new VezaError(`no backup of ${this.env.name} exists in ${repoName(this.h)}: nothing to restore`, `take one first: npx nx run infra-data:backup --env=${this.env.name} --type=full`, 'DATA_NO_BACKUP');
    if (await this.client.instance(container)) throw new VezaError(`a drill container ${container} is still there (kept by --keep, or left by a drill that was killed)`, `delete it: incus delete --force ${container} --project ${this.settings.project}`, 'DRILL_FAILED');
    const { ctx } = await this.planContext(resolveSecrets(this.env));
    const cipher = await this.cipherPass(this.h, primary.container);
    const frontCert = this.h.backrest.s3 ? await this.client.readFile(frontContainer(this.env), FRONT_CERT) : undefined;
    try {
      await applyPlan({ steps: planDrill(ctx, this.h, container, cipher, frontCert), notes: [], summary: `latest backup of ${this.env.name} restored into ${container}` }, this.client.runner, this.log);
      const port = this.h.nodes[0]!.port;
      const db = this.env.data.postgres.database;
      await applyPlan({ steps: [{ kind: 'wait', title: 'wait for the archive replay to end', what: 'the restored copy has replayed the archive and accepts writes', timeoutMs: 300_000, intervalMs: 1_000,
        check: async () => (await drillValue(this.client, container, port, 'postgres', 'SELECT pg_is_in_recovery()')) === 'f' }], notes: [], summary: 'archive replayed' }, this.client.runner, this.log);
      const count = await drillValue(this.client, container, port, db, `SELECT count(*) FROM ${table}`);
      if (count === undefined) throw new VezaError(`the restored copy has no readable table ${table}`, 'check backup.drill.table in the environment file', 'DRILL_FAILED');
      const rows = Number(count);
      const version = (await drillValue(this.client, container, port, db, "SELECT CASE WHEN to_regclass('schema_migrations') IS NULL THEN '' ELSE (SELECT max(version)::text FROM schema_migrations) END")) || undefined;
      if (rows < minRows) throw new DrillShortfall(table, rows, minRows);
      const result: DrillResult = { restoredRows: rows, ...(version ? { schemaVersion: version } : {}), durationSeconds: (Date.now() - started) / 1000, ...(opts.keep ? { kept: { pgdata: `${container}:${DRILL_PGDATA}`, host: container, port } } : {}) };
      this.log.info(`restore drill of ${this.env.name} passed: ${table} holds ${rows} rows, schema version ${version ?? '(none)'}, ${result.durationSeconds.toFixed(1)} s`);
      return result;
    } catch (e) {
      if (e instanceof VezaError && e.code === 'DRILL_FAILED') throw e;
      throw new VezaError(`restore drill of ${this.env.name} failed: ${describeError(e)}`, `run it again with --keep and read ${DRILL_PGDATA}/drill.log in ${container}`, 'DRILL_FAILED');
    } finally {
      if (!opts.keep) await this.client.run(cli.deleteInstance(this.client.scope, container), { check: false }).catch(() => undefined);
    }
  }

  private async requireHealthy() {
    const read = await readFormationOnIncus(this.client, this.h);
    if (!read?.formation.healthy || !read.formation.primary) {
      throw new VezaError(`the HA formation of ${this.env.name} is not healthy: ${read ? read.formation.problems.join('; ') : 'the monitor does not answer'}`,
        `run: npx nx run infra-data:status --env=${this.env.name}, then infra-data:provision to start what is stopped`, 'FORMATION_UNHEALTHY');
    }
    return read.formation;
  }

  /** SHOW POOLS on PgBouncer's admin console. */
  pools(): Promise<PoolRow[]> {
    return poolsOnIncus(this.client, this.h);
  }

  /** Planned switchover (`pg_autoctl perform switchover` in the monitor's container); resolves once the formation settled on the new primary. */
  async switchover(): Promise<string> {
    const before = (await this.requireHealthy()).primary!.name;
    await this.client.run(switchoverCommand(this.client, this.h));
    await applyPlan({ steps: [{ kind: 'wait', title: 'wait for the formation to settle', what: 'the formation has a new primary, taking writes, and every other node is a secondary', timeoutMs: 180_000, intervalMs: 1_000,
      check: async () => (await formationSettledOnIncus(this.client, this.h)) && (await readFormationOnIncus(this.client, this.h))?.formation.primary?.name !== before }], notes: [], summary: `switchover of ${this.env.name} done` }, this.client.runner, this.log);
    const after = (await readFormationOnIncus(this.client, this.h))!.formation.primary!.name;
    this.log.info(`primary of ${this.env.name}: ${before} -> ${after}`);
    return after;
  }
}
