import { dirname } from 'node:path';
import type { Environment } from '../../config/environment';
import { VezaError } from '../../log/errors';
import type { Logger } from '../../log/logger';
import type { ProcessRunner } from '../../ports/process';
import { resolveServicePassword, servicePasswordSource, type ResolvedPassword } from '../credentials';
import { applyPlan, type DataPlan, type PlanStep } from '../plan';
import type { ServicesStatus } from '../status';
import { localPgPaths } from './postgres';
import { sideServices, type SideService } from './services';

/**
 * The services a local environment declares beside PostgreSQL (Redis,
 * RabbitMQ, MinIO and its media cache), whichever PostgreSQL topology runs
 * next to them: the single server and the HA formation hand these the same
 * folder, `.veza/envs/<env>/data`, so a topology change keeps their data.
 */
export class LocalSideServices {
  private readonly dataRoot: string;

  constructor(
    private readonly env: Environment,
    private readonly workspaceRoot: string,
    private readonly runner: ProcessRunner,
    private readonly log: Logger,
  ) {
    this.dataRoot = localPgPaths(workspaceRoot, env.name).root;
  }

  /** Builds the services (throws MISSING_TOOL for a binary that is not here) and reads, never generates, their passwords. */
  async preflight(): Promise<void> {
    for (const svc of this.services()) await this.password(svc, false);
  }

  /**
   * Checks every input (binaries, secrets; a missing password is generated
   * here and stored by the plan) and changes nothing: the tier calls it
   * before its own first change, then provisions with what it returns.
   */
  async prepare(): Promise<{ provision(opts?: { dryRun?: boolean }): Promise<DataPlan[]>; password(service: SideService['service']): string | undefined }> {
    const services = this.services();
    const passwords = await Promise.all(services.map((svc) => this.password(svc, true)));
    return {
      provision: (opts = {}) => this.provision(services, passwords, opts),
      password: (service) => passwords[services.findIndex((s) => s.service === service)]?.value,
    };
  }

  private async provision(services: SideService[], passwords: (ResolvedPassword | undefined)[], opts: { dryRun?: boolean }): Promise<DataPlan[]> {
    const plans: DataPlan[] = [];
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
    return plans;
  }

  /** What slots get to reach the services (REDIS_URL or the REDIS_SENTINEL_* trio, AMQP_URL, S3_*); empty when the environment declares none. */
  async serviceEnv(): Promise<Record<string, string>> {
    const vars: Record<string, string> = {};
    for (const svc of this.services()) Object.assign(vars, svc.appEnv(await this.requiredPassword(svc)));
    return vars;
  }

  /** Each declared service asked for its state; one that has no password yet was never provisioned and is left out. */
  async status(): Promise<ServicesStatus> {
    const out: ServicesStatus = {};
    for (const svc of this.services()) {
      const password = await this.password(svc, false);
      if (password) Object.assign(out, await svc.status(password.value));
    }
    return out;
  }

  /** Stops what runs, by pid, keeping the data; false when nothing ran. */
  async stop(): Promise<boolean> {
    let stopped = false;
    for (const svc of this.services()) {
      const password = await this.password(svc, false);
      const steps = password ? await svc.stop(password.value) : [];
      if (steps.length) await applyPlan({ steps, notes: [], summary: `${svc.service} of ${this.env.name} stopped; its data stays in ${this.dataRoot}` }, this.runner, this.log);
      stopped ||= steps.length > 0;
    }
    return stopped;
  }

  private services(): SideService[] {
    return sideServices(this.env, this.dataRoot, this.runner);
  }

  private password(svc: SideService, generate: boolean): Promise<ResolvedPassword | undefined> {
    return resolveServicePassword(this.env, servicePasswordSource(this.env, svc.service, this.workspaceRoot), svc.passwordFile, { generate });
  }

  private async requiredPassword(svc: SideService): Promise<string> {
    const password = await this.password(svc, false);
    if (!password) throw new VezaError(`${svc.service} of ${this.env.name} has no password yet`, `run: npx nx run infra-data:provision --env=${this.env.name}`, 'DATA_NOT_PROVISIONED');
    return password.value;
  }
}
