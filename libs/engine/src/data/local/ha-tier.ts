import { existsSync, promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { Environment } from '../../config/environment';
import { validate } from '../../config/names';
import { describeError, VezaError } from '../../log/errors';
import type { Logger } from '../../log/logger';
import type { ProcessRunner } from '../../ports/process';
import { signalIfAlive, waitForExit } from '../../util/proc';
import { buildDatabaseUrl, resolvePostgresPassword } from '../credentials';
import { switchoverArgs, whyUnwritable, withPrimaryUnanswered } from '../ha/formation';
import { HaMetricsFiles } from '../ha/metrics-files';
import type { DrillResult, HaOperations, HaStatus } from '../ha/operations';
import { backupCommand, infoCommand, readBackupInfo, renderDrillOverrides, repoLabel, restoreCommand, type BackupInfo, type BackupType } from '../ha/pgbackrest';
import { backupUserSecret } from '../ha/s3-repository';
import { parseAlignedTable, type PoolRow } from '../ha/pgbouncer';
import { applyPlan, type DataPlan, type PlanStep } from '../plan';
import type { DataTier, ProvisionOptions } from '../port';
import type { SnapshotInfo } from '../snapshots';
import type { ServicesStatus } from '../status';
import { asServer, autoctlCommand, backrestCommand, formationSettled, haLayout, haRoot, inspectHa, planHaProvision, primaryAnswers, querySuper, readFormationState, runningId, type HaLayout } from './ha';
import { livePostmaster } from './postgres';
import { LocalSideServices } from './side-tier';

/** The local data tier in the HA topology (see ha.ts), with its operations. */
export class LocalHaTier implements DataTier, HaOperations {
  readonly kind = 'local' as const;

  private readonly side: LocalSideServices;

  constructor(
    private readonly env: Environment,
    private readonly workspaceRoot: string,
    private readonly runner: ProcessRunner,
    private readonly log: Logger,
  ) {
    this.side = new LocalSideServices(env, workspaceRoot, runner, log);
  }

  private layout(): HaLayout {
    return haLayout(this.env, this.workspaceRoot);
  }

  async preflight(): Promise<void> {
    this.layout();
    await this.side.preflight();
  }

  async provision(opts: ProvisionOptions = {}): Promise<DataPlan> {
    const release = opts.release === undefined ? undefined : validate.version(opts.release, true);
    const l = this.layout();
    const side = await this.side.prepare();
    const minioPassword = side.password('minio');
    const plan = planHaProvision(l, await inspectHa(l), l.backrest.s3 && minioPassword ? backupUserSecret(minioPassword) : undefined);
    // An S3 repository is in MinIO: MinIO, its backup user and the TLS front answer before the first node archives WAL into it.
    const sideFirst = l.backrest.s3 !== undefined;
    const before = sideFirst ? await side.provision(opts) : [];
    if (!opts.dryRun) await applyPlan(plan, this.runner, this.log);
    const services = [...before, plan, ...(sideFirst ? [] : await side.provision(opts))];
    const plans = release === undefined ? services : [...services, await this.snapshot(release, opts)];
    return { steps: plans.flatMap((p) => p.steps), notes: plans.flatMap((p) => p.notes), summary: services.map((p) => p.summary).join('; ') };
  }

  serviceEnv(): Promise<Record<string, string>> {
    return this.side.serviceEnv();
  }

  servicesStatus(): Promise<ServicesStatus> {
    return this.side.status();
  }

  /** The HA topology's pre-deploy snapshot is a differential pgBackRest backup: restorable by the drill, kept by the repository's retention. */
  async snapshot(release: string, opts: { dryRun?: boolean } = {}): Promise<DataPlan> {
    validate.version(release, true);
    const l = this.layout();
    const steps: PlanStep[] = [{ kind: 'run', title: `diff backup before deploying ${release}`, command: backrestCommand(l, backupCommand('diff'), `pgbackrest backup before ${release}`) }];
    const plan: DataPlan = { steps, notes: [`pre-deploy snapshots of ${this.env.name} are pgBackRest backups in ${repoLabel(l.backrest)}`], summary: `backup of ${this.env.name} taken before ${release}` };
    if (!opts.dryRun) await applyPlan(plan, this.runner, this.log);
    return plan;
  }

  async pruneSnapshots(): Promise<DataPlan> {
    return { steps: [], notes: [], summary: `backups of ${this.env.name} are pruned by pgBackRest (backup.retentionFull/retentionDiff)` };
  }

  async listSnapshots(): Promise<SnapshotInfo[]> {
    return [];
  }

  /** Stops the follower, PgBouncer, the nodes and the monitor by their recorded pids (SIGINT: pg_autoctl's fast stop); every byte of data stays. */
  async stop(): Promise<boolean> {
    // The services first: an app they serve is already gone, and Redis or MinIO may outlive a never-started formation.
    let stopped = await this.side.stop();
    if (!existsSync(haRoot(this.workspaceRoot, this.env.name))) return stopped;
    const l = this.layout();
    const groups: [string[], NodeJS.Signals][] = [[[l.pids.follower], 'SIGTERM'], [[l.pids.pgbouncer], 'SIGTERM'], [l.pids.nodes, 'SIGINT'], [[l.pids.monitor], 'SIGINT']];
    for (const [files, signal] of groups) {
      const ids = (await Promise.all(files.map(runningId))).filter((x) => x !== undefined);
      // The whole group: the recorded pid is runuser's, which passes SIGINT on to nobody.
      for (const id of ids) stopped = signalIfAlive(id, signal, { group: true }) || stopped;
      const left = await waitForExit(ids, 60_000, 100);
      for (const id of left) signalIfAlive(id, 'SIGKILL', { group: true });
    }
    // A postmaster orphaned by a killed pg_autoctl still holds its port.
    for (const pgdata of [...l.nodes.map((n) => n.pgdata), l.monitor.pgdata]) {
      const pm = livePostmaster(pgdata);
      if (pm) {
        process.kill(pm.pid, 'SIGINT');
        stopped = true;
      }
    }
    if (stopped) this.log.info(`HA formation of ${this.env.name} stopped; its data stays in ${l.root}`);
    return stopped;
  }

  async databaseUrl(): Promise<string> {
    const l = this.layout();
    const password = await resolvePostgresPassword(this.env, l.passwordFile, { generate: false });
    if (!password) throw new VezaError(`the HA formation of ${this.env.name} has no password yet`, `run: npx nx run infra-data:provision --env=${this.env.name}`, 'DATA_NOT_PROVISIONED');
    return buildDatabaseUrl(l.endpoint, password.value);
  }

  async unwritable(): Promise<string | undefined> {
    const l = this.layout();
    return whyUnwritable(this.env.name, (await readFormationState(l))?.formation, l.ha.failover, (primary) => primaryAnswers(l, primary));
  }


  async status(): Promise<HaStatus> {
    const l = this.layout();
    const read = await readFormationState(l);
    const formation = read?.formation.primary && !(await primaryAnswers(l, read.formation.primary)) ? withPrimaryUnanswered(read.formation, l.ha.failover) : read?.formation;
    const metrics = this.metrics(l);
    if (formation) await metrics.formation(formation);
    const lastDrill = await metrics.lastDrill();
    return {
      formation,
      pools: await this.pools(l).catch(() => []),
      backups: await this.backups(l).catch(() => []),
      ...(lastDrill ? { lastDrill } : {}),
    };
  }

  /** SHOW POOLS on PgBouncer's admin console (socket only, peer authentication). */
  async pools(l = this.layout()): Promise<PoolRow[]> {
    const p = l.pgbouncer;
    const res = await this.runner.run(asServer(l, ['psql', '--no-psqlrc', '--no-align', '--field-separator=\t', '--pset=footer=off', '--host', p.socketDir, '--port', String(p.listenPort), '--username', p.adminUser, '--dbname', 'pgbouncer', '--command', 'SHOW POOLS'], 'read PgBouncer pools', 10_000));
    return parseAlignedTable(res.stdout).filter((r) => r.database !== 'pgbouncer') as unknown as PoolRow[];
  }

  private async backups(l: HaLayout): Promise<BackupInfo[]> {
    const res = await this.runner.run(backrestCommand(l, infoCommand(), 'pgbackrest info', 60_000));
    const info = readBackupInfo(res.stdout);
    if (info instanceof Error) throw info;
    return info.reverse();
  }

  async switchover(): Promise<string> {
    const l = this.layout();
    const before = await this.requireHealthy(l);
    await this.runner.run(autoctlCommand(l, switchoverArgs(l.monitor.pgdata), 'pg_autoctl perform switchover', 180_000));
    await applyPlan({ steps: [{ kind: 'wait', title: 'wait for the formation to settle', what: 'the formation has a new primary and every other node is a secondary', timeoutMs: 180_000, intervalMs: 1_000, check: async () => (await formationSettled(l)) && (await readFormationState(l))?.formation.primary?.name !== before }], notes: [], summary: `switchover of ${this.env.name} done` }, this.runner, this.log);
    const after = (await readFormationState(l))!.formation.primary!.name;
    this.log.info(`primary of ${this.env.name}: ${before} -> ${after}`);
    return after;
  }

  private async requireHealthy(l: HaLayout): Promise<string> {
    const read = await readFormationState(l);
    if (!read?.formation.healthy || !read.formation.primary) {
      throw new VezaError(`the HA formation of ${this.env.name} is not healthy: ${read ? read.formation.problems.join('; ') : 'the monitor does not answer'}`,
        `run: npx nx run infra-data:status --env=${this.env.name}, then infra-data:provision to start what is stopped`, 'FORMATION_UNHEALTHY');
    }
    return read.formation.primary.name;
  }

  async backup(type: BackupType): Promise<BackupInfo> {
    const l = this.layout();
    await this.requireHealthy(l);
    await this.runner.run(backrestCommand(l, backupCommand(type), `pgbackrest backup --type=${type}`));
    const all = await this.backups(l);
    await this.metrics(l).backups(all);
    this.log.info(`${type} backup ${all[0]!.label} of ${this.env.name} stored in ${repoLabel(l.backrest)}`);
    return all[0]!;
  }

  /**
   * Restores the latest backup (and the archive after it) into a
   * throw-away folder, starts it on the data address, counts the check
   * table's rows and reads the schema version, writes the metrics, and
   * removes the copy unless `keep`. Any failure writes success 0.
   */
  async drill(opts: { keep?: boolean } = {}): Promise<DrillResult> {
    const l = this.layout();
    const started = Date.now();
    const { table, minRows } = l.ha.backup.drill;
    const d = l.drill;
    let rows = 0;
    let version: string | undefined;
    let started_ = false;
    try {
      const backups = await this.backups(l).catch((e: unknown) => {
        throw new VezaError(`the pgBackRest repository ${repoLabel(l.backrest)} cannot be read: ${describeError(e)}`, 'check the repository (pgbackrest info); restore it from its copy or take a new full backup', 'DRILL_FAILED');
      });
      if (backups.length === 0) throw new VezaError(`no backup of ${this.env.name} exists in ${repoLabel(l.backrest)}: nothing to restore`, `take one first: npx nx run infra-data:backup --env=${this.env.name} --type=full`, 'DATA_NO_BACKUP');
      if (livePostmaster(d.pgdata)) throw new VezaError(`a drill copy still runs from ${d.pgdata} (kept by --keep)`, `stop it: runuser -u postgres -- pg_ctl stop -D ${d.pgdata}, then remove the folder`, 'DRILL_FAILED');
      await fs.rm(d.pgdata, { recursive: true, force: true });
      const overrides = renderDrillOverrides({ host: d.host, port: d.port, socketDir: d.pgdata });
      const pgCtl = join(l.binDir, 'pg_ctl');
      await applyPlan({
        steps: [
          { kind: 'mkdir', title: 'create the drill folder', path: d.pgdata, mode: 0o700 },
          ...(l.serverUser ? [{ kind: 'run', title: 'hand it to the server user', command: { argv: ['chown', `${l.serverUser}:`, d.pgdata] } } as PlanStep] : []),
          { kind: 'run', title: 'restore the latest backup into the drill folder', command: backrestCommand(l, restoreCommand(d.pgdata), 'pgbackrest restore into the drill folder') },
          { kind: 'write', title: 'point the restored copy at its own address', path: join(d.pgdata, 'veza-drill.conf'), content: overrides, mode: 0o600, ownerLike: d.pgdata },
          { kind: 'ensure-line', title: 'include it last', path: join(d.pgdata, 'postgresql.auto.conf'), line: "include 'veza-drill.conf'" },
          { kind: 'run', title: `start the restored copy on ${d.host}:${d.port}`, command: asServer(l, [pgCtl, 'start', '--pgdata', d.pgdata, '--log', d.logFile, '--wait', '--timeout', '300', '--silent'], 'start the restored copy', 330_000), failureLog: d.logFile },
        ],
        notes: [], summary: `latest backup of ${this.env.name} restored into ${d.pgdata}`,
      }, this.runner, this.log);
      started_ = true;
      await applyPlan({ steps: [{ kind: 'wait', title: 'wait for the archive replay to end', what: 'the restored copy has replayed the archive and accepts writes', timeoutMs: 300_000, check: async () => (await querySuper<{ r: boolean }>(d.pgdata, d.port, 'postgres', 'SELECT pg_is_in_recovery() AS r'))[0]?.r === false }], notes: [], summary: 'archive replayed' }, this.runner, this.log);
      const db = this.env.data.postgres.database;
      rows = Number((await querySuper<{ n: string }>(d.pgdata, d.port, db, `SELECT count(*) AS n FROM ${table}`).catch((e: unknown) => {
        throw new VezaError(`the restored copy has no readable table ${table}: ${describeError(e)}`, 'check backup.drill.table in the environment file', 'DRILL_FAILED');
      }))[0]!.n);
      const [migrations] = await querySuper<{ t: string | null }>(d.pgdata, d.port, db, "SELECT to_regclass('schema_migrations')::text AS t");
      if (migrations?.t) version = (await querySuper<{ v: string | null }>(d.pgdata, d.port, db, 'SELECT max(version) AS v FROM schema_migrations'))[0]?.v ?? undefined;
      if (rows < minRows) throw new VezaError(`the restored ${table} holds ${rows} rows, fewer than the ${minRows} expected`, 'the latest backup lacks data: check the backups and the archive (pgbackrest info)', 'DRILL_FAILED');
      const result: DrillResult = { restoredRows: rows, ...(version ? { schemaVersion: version } : {}), durationSeconds: (Date.now() - started) / 1000, ...(opts.keep ? { kept: { pgdata: d.pgdata, host: d.host, port: d.port } } : {}) };
      await this.metrics(l).drill({ success: true, startedAt: started, restoredRows: rows, schemaVersion: version });
      this.log.info(`restore drill of ${this.env.name} passed: ${table} holds ${rows} rows, schema version ${version ?? '(none)'}, ${result.durationSeconds.toFixed(1)} s`);
      return result;
    } catch (e) {
      await this.metrics(l).drill({ success: false, startedAt: started, restoredRows: rows, schemaVersion: version });
      if (e instanceof VezaError && (e.code === 'DATA_NO_BACKUP' || e.code === 'DRILL_FAILED')) throw e;
      throw new VezaError(`restore drill of ${this.env.name} failed: ${describeError(e)}`, `read ${d.logFile} and ${l.backrest.logPath}; check the repository with pgbackrest info`, 'DRILL_FAILED');
    } finally {
      if (!opts.keep) await this.dropDrill(l, started_);
    }
  }

  private async dropDrill(l: HaLayout, running: boolean): Promise<void> {
    const d = l.drill;
    if (running || livePostmaster(d.pgdata)) {
      await this.runner.run(asServer(l, [join(l.binDir, 'pg_ctl'), 'stop', '--pgdata', d.pgdata, '--mode', 'immediate', '--wait', '--silent'], 'stop the drill copy', 60_000), { check: false });
    }
    await fs.rm(d.pgdata, { recursive: true, force: true });
  }

  private metrics(l: HaLayout): HaMetricsFiles {
    return new HaMetricsFiles(l.metricsDir, this.env.name);
  }
}
