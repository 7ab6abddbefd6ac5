import { dirname } from 'node:path';
import type { Environment } from '../../config/environment';
import { validate } from '../../config/names';
import { VezaError } from '../../log/errors';
import type { Logger } from '../../log/logger';
import type { ProcessRunner } from '../../ports/process';
import { buildDatabaseUrl, resolvePostgresPassword, resolveServicePassword, servicePasswordSource, type ResolvedPassword } from '../credentials';
import { redisAppEnv } from '../redis-topology';
import { applyPlan, type DataPlan } from '../plan';
import { listSnapshotFiles, type SnapshotInfo } from '../snapshots';
import type { DataTier, ProvisionOptions } from '../port';
import { inspectRedis, localRedis, planRedis, planRedisStop, type LocalRedis } from './redis';
import { inspectPostgres, livePostmaster, localEndpoint, localPgPaths, localPostgres, planProvision, planSnapshot, planSnapshotPrune, stopStep } from './postgres';

/** The local data tier: one PostgreSQL per environment and, when declared, its Redis (single or Sentinel), run from the machine's binaries. */
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
    const redis = this.redis();
    if (redis) await this.redisPassword(redis, false);
  }

  async provision(opts: ProvisionOptions = {}): Promise<DataPlan> {
    const release = opts.release === undefined ? undefined : validate.version(opts.release, true);
    const pg = localPostgres(this.env, this.workspaceRoot);
    const redis = this.redis();
    // Every input (binaries, secrets) is checked before the first change.
    const redisPassword = redis && (await this.redisPassword(redis, true))!;
    const plan = planProvision(pg, await inspectPostgres(pg), { release });
    if (!opts.dryRun) await applyPlan(plan, this.runner, this.log);
    if (!redis || !redisPassword) return plan;
    const r = planRedis(redis, inspectRedis(redis), redisPassword.value);
    const secretSteps: DataPlan['steps'] = redisPassword.source === 'generated'
      ? [{ kind: 'mkdir', title: 'create the secrets folder', path: dirname(redis.passwordFile), mode: 0o700 }, { kind: 'write', title: `store the generated redis password of ${this.env.name}`, path: redis.passwordFile, content: `${redisPassword.value}\n`, mode: 0o600, secret: true }]
      : [];
    const redisPlan: DataPlan = { steps: [...secretSteps, ...r.steps], notes: r.notes, summary: `redis (${redis.settings.topology}) of ${this.env.name} ${r.steps.length ? 'ready' : 'already runs: nothing to do'}` };
    if (!opts.dryRun) await applyPlan(redisPlan, this.runner, this.log);
    return { steps: [...plan.steps, ...redisPlan.steps], notes: [...plan.notes, ...redisPlan.notes], summary: `${plan.summary}; ${redisPlan.summary}`, ...(plan.rollback ? { rollback: plan.rollback } : {}) };
  }

  private redis(): LocalRedis | undefined {
    return localRedis(this.env, localPgPaths(this.workspaceRoot, this.env.name).root);
  }

  private redisPassword(r: LocalRedis, generate: boolean): Promise<ResolvedPassword | undefined> {
    return resolveServicePassword(this.env, servicePasswordSource(this.env, 'redis', this.workspaceRoot), r.passwordFile, { generate });
  }

  /** What slots get to reach Redis (REDIS_URL, or the REDIS_SENTINEL_* trio); empty when the environment declares none. */
  async serviceEnv(): Promise<Record<string, string>> {
    const redis = this.redis();
    if (!redis) return {};
    const password = await this.redisPassword(redis, false);
    if (!password) throw new VezaError(`redis of ${this.env.name} has no password yet`, `run: npx nx run infra-data:provision --env=${this.env.name}`, 'DATA_NOT_PROVISIONED');
    return redisAppEnv(redis.settings, redis.nodes, password.value);
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
    const redis = this.redis();
    const redisSteps = redis ? planRedisStop(redis, inspectRedis(redis)) : [];
    if (redisSteps.length) await applyPlan({ steps: redisSteps, notes: [], summary: `redis of ${this.env.name} stopped; its data stays in ${dirname(redis!.nodes[0]!.files.dir)}` }, this.runner, this.log);
    if (!livePostmaster(paths.pgdata)) return redisSteps.length > 0;
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
