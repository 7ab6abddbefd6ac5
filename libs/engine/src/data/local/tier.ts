import { dirname } from 'node:path';
import type { Environment } from '../../config/environment';
import { validate } from '../../config/names';
import { VezaError } from '../../log/errors';
import type { Logger } from '../../log/logger';
import type { ProcessRunner } from '../../ports/process';
import { buildDatabaseUrl, resolvePostgresPassword, resolveServicePassword, servicePasswordSource, type ResolvedPassword } from '../credentials';
import { applyPlan, type DataPlan, type PlanStep } from '../plan';
import { listSnapshotFiles, type SnapshotInfo } from '../snapshots';
import type { DataTier, ProvisionOptions } from '../port';
import type { ServicesStatus } from '../status';
import { sideServices, type SideService } from './services';
import { inspectPostgres, livePostmaster, localEndpoint, localPgPaths, localPostgres, planProvision, planSnapshot, planSnapshotPrune, stopStep } from './postgres';

/** The local data tier: one PostgreSQL per environment and, when declared, its Redis (single or Sentinel) and RabbitMQ, run from the machine's binaries. */
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
    for (const svc of this.services()) await this.password(svc, false);
  }

  async provision(opts: ProvisionOptions = {}): Promise<DataPlan> {
    const release = opts.release === undefined ? undefined : validate.version(opts.release, true);
    const pg = localPostgres(this.env, this.workspaceRoot);
    // Every input (binaries, secrets) is checked before the first change.
    const services = this.services();
    const passwords = await Promise.all(services.map((svc) => this.password(svc, true)));
    const plan = planProvision(pg, await inspectPostgres(pg), { release });
    if (!opts.dryRun) await applyPlan(plan, this.runner, this.log);
    const plans: DataPlan[] = [plan];
    for (const [i, svc] of services.entries()) {
      const password = passwords[i]!;
      const secretSteps: PlanStep[] = password.source === 'generated'
        ? [{ kind: 'mkdir', title: 'create the secrets folder', path: dirname(svc.passwordFile), mode: 0o700 }, { kind: 'write', title: `store the generated ${svc.service} password of ${this.env.name}`, path: svc.passwordFile, content: `${password.value}\n`, mode: 0o600, secret: true }]
        : [];
      const first = await svc.plan(password.value);
      const summary = (steps: PlanStep[]) => `${svc.label} of ${this.env.name} ${steps.some((s) => s.kind !== 'mkdir') ? 'ready' : 'already provisioned: nothing to do'}`;
      let svcPlan: DataPlan = { steps: [...secretSteps, ...first.steps], notes: first.notes, summary: summary(first.steps) };
      if (!opts.dryRun) await applyPlan(svcPlan, this.runner, this.log);
      if (first.again && !opts.dryRun) {
        const rest = await svc.plan(password.value);
        await applyPlan({ steps: rest.steps, notes: [], summary: summary(rest.steps) }, this.runner, this.log);
        svcPlan = { steps: [...svcPlan.steps, ...rest.steps], notes: rest.notes, summary: summary([...first.steps, ...rest.steps]) };
      }
      plans.push(svcPlan);
    }
    return { steps: plans.flatMap((p) => p.steps), notes: plans.flatMap((p) => p.notes), summary: plans.map((p) => p.summary).join('; '), ...(plan.rollback ? { rollback: plan.rollback } : {}) };
  }

  private services(): SideService[] {
    return sideServices(this.env, localPgPaths(this.workspaceRoot, this.env.name).root, this.runner);
  }

  private password(svc: SideService, generate: boolean): Promise<ResolvedPassword | undefined> {
    return resolveServicePassword(this.env, servicePasswordSource(this.env, svc.service, this.workspaceRoot), svc.passwordFile, { generate });
  }

  private async requiredPassword(svc: SideService): Promise<string> {
    const password = await this.password(svc, false);
    if (!password) throw new VezaError(`${svc.service} of ${this.env.name} has no password yet`, `run: npx nx run infra-data:provision --env=${this.env.name}`, 'DATA_NOT_PROVISIONED');
    return password.value;
  }

  /** What slots get to reach the other services (REDIS_URL or the REDIS_SENTINEL_* trio, AMQP_URL); empty when the environment declares none. */
  async serviceEnv(): Promise<Record<string, string>> {
    const vars: Record<string, string> = {};
    for (const svc of this.services()) Object.assign(vars, svc.appEnv(await this.requiredPassword(svc)));
    return vars;
  }

  /** Each declared service asked for its state; one that has no password yet was never provisioned and is left out. */
  async servicesStatus(): Promise<ServicesStatus> {
    const out: ServicesStatus = {};
    for (const svc of this.services()) {
      const password = await this.password(svc, false);
      if (password) Object.assign(out, await svc.status(password.value));
    }
    return out;
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
    let stopped = false;
    for (const svc of this.services()) {
      const password = await this.password(svc, false);
      const steps = password ? await svc.stop(password.value) : [];
      if (steps.length) await applyPlan({ steps, notes: [], summary: `${svc.service} of ${this.env.name} stopped; its data stays in ${paths.root}` }, this.runner, this.log);
      stopped ||= steps.length > 0;
    }
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
