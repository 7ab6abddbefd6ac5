import { loadComponents, type ComponentDeclaration } from '../config/component';
import { loadEnvironment, type Environment } from '../config/environment';
import { validate } from '../config/names';
import type { DataTier } from '../data/port';
import { createDataTier } from '../data/tier';
import { createIncusDriver } from '../hosts/incus/driver';
import { createLocalDriver } from '../hosts/local/driver';
import type { HostDriver } from '../hosts/port';
import { VezaError } from '../log/errors';
import { createLogger, type Logger } from '../log/logger';
import { createProcessRunner, type ProcessRunner } from '../ports/process';
import type { StateStore } from '../ports/state-store';
import type { Registry } from '../registry/port';
import { createRegistry } from '../registry/registry';
import { planningChecks, planningDriver, planningEdge, planningRegistry, planningStore, planningTier } from './dry-run';
import { createDeployEdge } from './edge-adapter';
import type { DeployEdge } from './edge-port';
import { createPlan, type Plan } from './plan';
import { createChecks, type Checks } from './probe';
import { createProgress, type Progress } from './progress';

/**
 * Everything one deploy, rollback, cleanup, status or down works with: the
 * validated environment and components, and the ports every side effect
 * goes through. A dry-run gets the same context with planning ports, so the
 * code that runs is the code that is planned.
 */
export interface CommonOptions {
  workspaceRoot: string;
  /** Default: local. */
  env?: string;
  /** JSON progress events on stdout (one per line) instead of text on stderr. */
  json?: boolean;
  log?: Logger;
  /** Where progress lines go; by default stderr, or stdout with json. */
  write?: (line: string) => void;
  /** The deployer's environment: registry token, VEZA_RELEASE_SHA, variables slots require. */
  processEnv?: NodeJS.ProcessEnv;
  /** In place of the environment's real ports (tests run the engine on in-memory ones); a dry-run wraps them all the same. */
  ports?: Ports;
  /** What runs the engine's own commands (git, dpkg-query); by default real processes. */
  runner?: ProcessRunner;
}

export interface Ports {
  driver: HostDriver;
  /** Created on first use: status and down never need the registry's token. */
  registry(): Registry;
  tier: DataTier;
  edge: DeployEdge;
  /** The edge's state store: lock, history, audit, metrics. */
  store: StateStore;
  checks: Checks;
}

export interface Context {
  root: string;
  env: Environment;
  components: ComponentDeclaration[];
  ports: Ports;
  log: Logger;
  runner: ProcessRunner;
  processEnv: NodeJS.ProcessEnv;
  progress: Progress;
  /** Set on a dry-run: where the planning ports write. */
  plan?: Plan;
}

export async function openContext(o: CommonOptions & { dryRun?: boolean }, title: (env: Environment) => string): Promise<Context> {
  const log = o.log ?? createLogger({ format: o.json ? 'json' : undefined });
  const env = await loadEnvironment(o.workspaceRoot, validate.env(o.env ?? 'local'));
  const components = await loadComponents(o.workspaceRoot);
  if (components.length === 0) throw new VezaError('the workspace declares no component (apps/*/component.json)', 'add a component: nx g @veza/generators:component', 'BAD_COMPONENT');
  const processEnv = o.processEnv ?? process.env;
  const runner = o.runner ?? createProcessRunner();
  const write = o.write ?? (o.json ? (line: string) => process.stdout.write(line + '\n') : undefined);
  const progress = createProgress({ title: title(env), mode: o.json ? 'json' : undefined, write });

  const real = o.ports ?? await realPorts(env, o.workspaceRoot, { log, runner, processEnv });
  if (!o.dryRun) return { root: o.workspaceRoot, env, components, ports: real, log, runner, processEnv, progress };

  const plan = createPlan((step) => progress.planned(step));
  const store = planningStore(real.store, plan);
  const planned = planningEdge(real.edge, plan, store, env.name);
  const ports: Ports = {
    driver: planningDriver(real.driver, plan),
    registry: once(() => planningRegistry(real.registry(), plan)),
    tier: planningTier(real.tier, plan),
    edge: planned,
    store,
    checks: planningChecks(real.checks, plan, real.driver.kind, real.edge.name),
  };
  return { root: o.workspaceRoot, env, components, ports, log, runner, processEnv, progress, plan };
}

async function realPorts(env: Environment, workspaceRoot: string, o: { log: Logger; runner: ProcessRunner; processEnv: NodeJS.ProcessEnv }): Promise<Ports> {
  const edge = await createDeployEdge({ workspaceRoot, env, log: o.log, runner: o.runner });
  const driver = createHostDriver(env, workspaceRoot, o.runner);
  return {
    driver,
    registry: once(() => createRegistry(env, workspaceRoot, { processEnv: o.processEnv, log: o.log })),
    tier: createDataTier(env, { workspaceRoot, runner: o.runner, log: o.log }),
    edge,
    store: edge.stateStore(),
    checks: createChecks(edge, driver),
  };
}

function createHostDriver(env: Environment, workspaceRoot: string, runner: ProcessRunner): HostDriver {
  if (env.driver === 'local') return createLocalDriver({ workspaceRoot, runner });
  return createIncusDriver({ env, runner });
}

function once<T>(make: () => T): () => T {
  let made: { value: T } | undefined;
  return () => (made ??= { value: make() }).value;
}
