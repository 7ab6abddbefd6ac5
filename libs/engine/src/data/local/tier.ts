import type { Environment } from '../../config/environment';
import { validate } from '../../config/names';
import { VezaError } from '../../log/errors';
import type { Logger } from '../../log/logger';
import type { ProcessRunner } from '../../ports/process';
import { buildDatabaseUrl, resolvePostgresPassword } from '../credentials';
import { applyPlan, type DataPlan } from '../plan';
import { listSnapshotFiles, type SnapshotInfo } from '../snapshots';
import type { DataTier, ProvisionOptions } from '../port';
import type { ServicesStatus } from '../status';
import { LocalSideServices } from './side-tier';
import { inspectPostgres, livePostmaster, localEndpoint, localPgPaths, localPostgres, planProvision, planSnapshot, planSnapshotPrune, stopStep } from './postgres';

/** The local data tier: one PostgreSQL per environment and, when declared, its Redis (single or Sentinel), RabbitMQ and MinIO, run from the machine's binaries. */
export class LocalDataTier implements DataTier {
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

  async preflight(): Promise<void> {
    localPostgres(this.env, this.workspaceRoot);
    await this.side.preflight();
  }

  async provision(opts: ProvisionOptions = {}): Promise<DataPlan> {
    const release = opts.release === undefined ? undefined : validate.version(opts.release, true);
    const pg = localPostgres(this.env, this.workspaceRoot);
    const side = await this.side.prepare();
    const plan = planProvision(pg, await inspectPostgres(pg), { release });
    if (!opts.dryRun) await applyPlan(plan, this.runner, this.log);
    const plans = [plan, ...(await side.provision(opts))];
    return { steps: plans.flatMap((p) => p.steps), notes: plans.flatMap((p) => p.notes), summary: plans.map((p) => p.summary).join('; '), ...(plan.rollback ? { rollback: plan.rollback } : {}) };
  }

  serviceEnv(): Promise<Record<string, string>> {
    return this.side.serviceEnv();
  }

  servicesStatus(): Promise<ServicesStatus> {
    return this.side.status();
  }

  async snapshot(release: string, opts: { dryRun?: boolean } = {}): Promise<DataPlan> {
    validate.version(release, true);
    const pg = localPostgres(this.env, this.workspaceRoot);
    const state = await inspectPostgres(pg);
    if (!state.running) {
      throw new VezaError(`postgres of ${this.env.name} is not running, so it cannot be snapshotted`, `run: npx nx run infra-data:provision --env=${this.env.name}`, 'DATA_NOT_RUNNING');
    }
    const plan = { ...planSnapshot(pg, state, release), summary: `snapshots of ${this.env.name} are in ${pg.paths.snapshots}` };
    if (!opts.dryRun) await applyPlan(plan, this.runner, this.log);
    return plan;
  }

  async pruneSnapshots(keep: readonly string[], opts: { dryRun?: boolean } = {}): Promise<DataPlan> {
    const pg = localPostgres(this.env, this.workspaceRoot);
    const steps = planSnapshotPrune(pg, await this.listSnapshots(), keep);
    const plan: DataPlan = { steps, notes: [], summary: steps.length ? `${steps.length} old snapshot(s) of ${this.env.name} pruned` : `no snapshot of ${this.env.name} to prune` };
    if (!opts.dryRun) await applyPlan(plan, this.runner, this.log);
    return plan;
  }

  listSnapshots(): Promise<SnapshotInfo[]> {
    return listSnapshotFiles(localPgPaths(this.workspaceRoot, this.env.name).snapshots);
  }

  async stop(): Promise<boolean> {
    const paths = localPgPaths(this.workspaceRoot, this.env.name);
    const stopped = await this.side.stop();
    if (!livePostmaster(paths.pgdata)) return stopped;
    const pg = localPostgres(this.env, this.workspaceRoot);
    await applyPlan({ steps: [stopStep(pg)], notes: [], summary: `postgres of ${this.env.name} stopped; its data stays in ${paths.pgdata}` }, this.runner, this.log);
    return true;
  }

  async databaseUrl(): Promise<string> {
    const paths = localPgPaths(this.workspaceRoot, this.env.name);
    const password = await resolvePostgresPassword(this.env, paths.passwordFile, { generate: false });
    if (!password) {
      throw new VezaError(`postgres of ${this.env.name} has no password yet`, `run: npx nx run infra-data:provision --env=${this.env.name}`, 'DATA_NOT_PROVISIONED');
    }
    return buildDatabaseUrl(localEndpoint(this.env), password.value);
  }
}
