import type { Environment } from '../config/environment';
import type { Workspace } from '../config/workspace';
import { dataContainers } from '../data/incus/services';
import { edgeSettings } from '../edge/incus-edge-host';
import * as cli from '../hosts/incus/cli';
import { IncusClient } from '../hosts/incus/client';
import { incusSettings } from '../hosts/incus/host';
import { parseNames, type Instance } from '../hosts/incus/json';
import { isVezaError, VezaError } from '../log/errors';
import type { Logger } from '../log/logger';
import { createProcessRunner, type ProcessRunner } from '../ports/process';
import { applyBaseline, renderSshdDropIn, type BaselineResult } from './baseline';
import { collectorPlacement } from './collector';
import { incusMachine, localMachine, type Machine } from './machine';
import { loadHostSettings } from './settings';

/**
 * `infra-host:baseline --env=E`: the common baseline (baseline.ts) applied
 * through `incus exec` to every container of the environment that exists —
 * its edge, its data containers, its deploy runner — and with `host` to this
 * machine too. Every input is checked before the first container is asked
 * anything; each container is reported: applied, unchanged, or not there.
 */
export type TargetRole = 'edge' | 'data' | 'collector' | 'runner';

export interface Target {
  role: TargetRole;
  container: string;
  project: string;
}

/** The containers the environment has a name for, in the order they are hardened: edge, data (every node of its topologies), collector, runner. */
export function baselineTargets(env: Environment, edge: { name: string; project: string }, runnerInstance: string): Target[] {
  const project = env.incus!.project;
  const targets: Target[] = [
    { role: 'edge', container: edge.name, project: edge.project },
    ...dataContainers(env).map((container): Target => ({ role: 'data', container, project })),
    ...[collectorPlacement(env, incusSettings(env))].flatMap((c): Target[] => (c ? [{ role: 'collector', container: c.container, project }] : [])),
    { role: 'runner', container: runnerInstance, project },
  ];
  // An environment whose runner or edge shares a name with another target is hardened once.
  return targets.filter((t, i) => targets.findIndex((u) => u.container === t.container && u.project === t.project) === i);
}

export type Outcome = 'applied' | 'would apply' | 'unchanged' | 'absent' | 'not running';

export interface TargetReport {
  /** "this machine", or the container's name. */
  name: string;
  role: TargetRole | 'host';
  outcome: Outcome;
  baseline?: BaselineResult;
  /** What to do about a container that was not hardened. */
  hint?: string;
}

export function outcomeOf(r: BaselineResult): Outcome {
  if (r.files.some((f) => f.action === 'installed')) return 'applied';
  if (r.files.some((f) => f.action === 'planned')) return 'would apply';
  return 'unchanged';
}

/** One line per target, as the operator reads it. */
export function describeReport(r: TargetReport): string {
  const head = `${r.name} (${r.role}): ${r.outcome}`;
  if (!r.baseline) return `${head}${r.hint ? ` — ${r.hint}` : ''}`;
  const files = r.baseline.files.filter((f) => f.action === 'installed' || f.action === 'planned')
    .map((f) => (f.action === 'planned' ? `would ${f.existed ? 'replace' : 'create'} /etc/${f.path}` : `installed /etc/${f.path}`));
  const skipped = r.baseline.sshdAbsent ? ['skipped: no sshd (SSH drop-in and fail2ban jail)'] : [];
  const parts = [...files, ...skipped];
  return parts.length ? `${head} — ${parts.join('; ')}` : head;
}

export interface EnvironmentBaselineOptions {
  workspace: Workspace;
  env: string;
  log: Logger;
  dryRun?: boolean;
  /** Also apply it to this machine (the Incus host itself). */
  host?: boolean;
  runner?: ProcessRunner;
}

export async function applyEnvironmentBaseline(o: EnvironmentBaselineOptions): Promise<TargetReport[]> {
  const log = o.log.child({ phase: 'baseline' });
  const env = o.workspace.env(o.env);
  if (env.driver !== 'incus') {
    throw new VezaError(`environment ${env.name} uses the ${env.driver} driver: it has no containers to harden`,
      'run it for an Incus environment (e.g. --env=prod); for this machine alone use nx run infra-host:bootstrap --baseline', 'INVALID_INPUT');
  }
  // Every input is checked before the first command: the host file (whose schema refuses an empty
  // allow-list), the drop-in it renders, and the edge's project.
  const settings = await loadHostSettings(o.workspace.root, env.name);
  renderSshdDropIn(settings.ssh);
  const def = o.workspace.edge(env.edge);
  const targets = baselineTargets(env, { name: def.name, project: edgeSettings(o.workspace, def).project }, settings.runner.instance);

  const runner = o.runner ?? createProcessRunner();
  const clients = new Map<string, IncusClient>();
  const client = (project: string) => clients.get(project) ?? clients.set(project, new IncusClient(runner, project)).get(project)!;
  // A project that does not exist yet holds no container: asked for its instances, incus would fail.
  const projects = parseNames((await runner.run(cli.listProjects())).stdout, 'incus project list');
  const listed = new Map<string, Instance[]>();
  for (const project of new Set(targets.map((t) => t.project))) listed.set(project, projects.includes(project) ? await client(project).instances() : []);

  const reports: TargetReport[] = [];
  const apply = async (name: string, role: TargetReport['role'], machine: Machine) => {
    const baseline = await applyBaseline({ settings, machine, log, dryRun: o.dryRun }).catch((e: unknown) => {
      // The failed machine was left as it was (its files are proven before any is installed); the ones before it were not.
      if (!isVezaError(e)) throw e;
      const done = reports.filter((r) => r.outcome === 'applied').map((r) => r.name);
      throw new VezaError(e.message, `${e.hint}${done.length ? `; already hardened before it: ${done.join(', ')} (running again changes only what is left)` : ''}`, e.code);
    });
    for (const n of baseline.notes) log.info(`${name}: ${n}`);
    for (const f of baseline.files) if (f.diff) log.info(f.diff);
    reports.push({ name, role, outcome: outcomeOf(baseline), baseline });
  };
  for (const t of targets) {
    const inst = listed.get(t.project)!.find((i) => i.name === t.container);
    if (!inst) reports.push({ name: t.container, role: t.role, outcome: 'absent', hint: `no such container in project ${t.project}: nothing to harden` });
    else if (inst.status !== 'Running') reports.push({ name: t.container, role: t.role, outcome: 'not running', hint: `it is ${inst.status}: start it (incus start ${t.container} --project ${t.project}) and run again` });
    else await apply(t.container, t.role, incusMachine(client(t.project), t.container));
  }
  if (o.host) await apply('this machine', 'host', localMachine(runner));

  for (const r of reports) log.info(describeReport(r));
  const hardened = reports.filter((r) => r.baseline).length;
  log.info(hardened === 0 ? `no container of ${env.name} exists yet: nothing was hardened (deploy or bootstrap first)` : `${hardened} machine(s) ${o.dryRun ? 'checked; nothing was changed (dry-run)' : 'hardened'}`);
  return reports;
}
