import type { Environment } from '../../config/environment';
import { validate } from '../../config/names';
import { VezaError } from '../../log/errors';
import type { Logger } from '../../log/logger';
import type { ProcessRunner } from '../../ports/process';
import { buildDatabaseUrl, resolvePostgresPassword } from '../credentials';
import { applyPlan, type DataPlan } from '../plan';
import { listSnapshotFiles, type SnapshotInfo } from '../snapshots';
import type { DataTier, ProvisionOptions } from '../port';
import { inspectPostgres, livePostmaster, localEndpoint, localPgPaths, localPostgres, planProvision, planSnapshot, planSnapshotPrune, stopStep } from './postgres';

/** The local data tier: one PostgreSQL per environment, run from the machine's binaries. */
export class LocalDataTier implements DataTier {
  readonly kind = 'local' as const;

  constructor(
    private readonly env: Environment,
    private readonly workspaceRoot: string,
    private readonly runner: ProcessRunner,
    private readonly log: Logger,
  ) {}

  async preflight(): Promise<void> {
    localPostgres(this.env, this.workspaceRoot);
  }

  async provision(opts: ProvisionOptions = {}): Promise<DataPlan> {
    const release = opts.release === undefined ? undefined : validate.version(opts.release, true);
    const pg = localPostgres(this.env, this.workspaceRoot);
    const plan = planProvision(pg, await inspectPostgres(pg), { release });
    if (!opts.dryRun) await applyPlan(plan, this.runner, this.log);
    return plan;
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
    if (!livePostmaster(paths.pgdata)) return false;
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
