import type { Color } from '../config/names';
import { formatPlan, type DataPlan, type PlanStep } from '../data/plan';
import { describeSwitchStep, type SwitchStep } from '../edge/plan';
import type { SlotRole } from '../hosts/naming';
import { formatArgv } from '../ports/process';

/**
 * A dry-run's plan as data: the planning ports (dry-run.ts) turn every change
 * the deploy, rollback, cleanup or down would make into one of these steps,
 * in order. `--json` prints each as a `plan` progress event; text output
 * prints the lines describeStep gives.
 */
export type DeployStep =
  | SwitchStep
  /** An artifact or release manifest put into the registry; `published` when identical bytes are there already. */
  | { kind: 'publish'; artifact: string; sha256: string; registry: string; published: boolean }
  /** An artifact placed in the deployer's cache: from the file checked before the lock, or downloaded. */
  | { kind: 'cache-artifact'; artifact: string; sha256: string; path: string; from: { checked: string } | { registry: string; size: number; unpublished?: true } }
  | {
      kind: 'slot-create'; slot: string; component: string; role: SlotRole; release: string;
      artifactPath: string; artifactSha256: string; bind: { host: string; port: number };
      /** The slot's env file, secrets replaced by `(set, not shown)`. */
      env: string[];
    }
  | { kind: 'slot-start'; slot: string; argv?: string[] }
  | { kind: 'slot-stop'; slot: string }
  | { kind: 'slot-delete'; slot: string }
  /** A command run inside a slot. */
  | { kind: 'command'; slot: string; argv: string[]; description?: string }
  | { kind: 'append-line'; path: string; line: string }
  | { kind: 'create-file'; path: string }
  | { kind: 'remove-file'; path: string }
  /** The data tier's own plan (data/plan.ts), stdin and secret file contents left out. */
  | { kind: 'data'; plan: DataPlan }
  | { kind: 'data-stop' }
  | { kind: 'edge-up'; edge: string; running: boolean }
  | { kind: 'edge-stop'; edge: string; running: boolean }
  | { kind: 'switch'; edge: string; color: Color; release: string }
  | { kind: 'wait-healthy'; slot: string; port: number; path: string; timeoutMs: number; probedFrom: string }
  | { kind: 'probe-from-edge'; slot?: string; url: string; edge: string }
  | { kind: 'verify'; component: string; path: string; release: string; retries: number; intervalMs: number };

export interface Plan {
  readonly steps: readonly DeployStep[];
  add(step: DeployStep): void;
}

export function createPlan(onStep: (step: DeployStep) => void = () => undefined): Plan {
  const steps: DeployStep[] = [];
  return {
    steps,
    add(step) {
      steps.push(step);
      onStep(step);
    },
  };
}

/** Secrets a data step holds (generated passwords, SQL with them on stdin) never reach a printed plan. */
export function shownDataPlan(plan: DataPlan): DataPlan {
  const shown = (s: PlanStep): PlanStep => {
    if (s.kind === 'write' && s.secret) return { ...s, content: '(not shown)' };
    if (s.kind !== 'run') return s;
    const { input, env, ...command } = s.command;
    return { ...s, command: { ...command, ...(input !== undefined ? { input: '(not shown)' } : {}), ...(env ? { env: Object.fromEntries(Object.keys(env).map((k) => [k, '(not shown)'])) } : {}) } };
  };
  return { ...plan, steps: plan.steps.map(shown), ...(plan.rollback ? { rollback: plan.rollback.map(shown) } : {}) };
}

/** The text lines one step prints as (a line may span several: a diff). */
export function describeStep(step: DeployStep): string[] {
  switch (step.kind) {
    case 'publish':
      return [step.published ? `${step.artifact} is already published in ${step.registry} with identical bytes` : `upload ${step.artifact} (sha256 ${step.sha256}) to ${step.registry}`];
    case 'cache-artifact': {
      const f = step.from;
      if ('checked' in f) return [`place ${step.artifact} (checked in ${f.checked}) in the cache as ${step.path}`];
      const download = `download it to ${step.path}, verifying sha256 ${step.sha256}`;
      return [f.unpublished
        ? `publish ${step.artifact} (not in ${f.registry} yet; the deploy target's publish step uploads it), then ${download}`
        : `download ${step.artifact} (${f.size} bytes) from ${f.registry} to ${step.path}, verifying sha256 ${step.sha256}`];
    }
    case 'slot-create':
      return [`create slot ${step.slot} (${step.component}, ${step.role}, release ${step.release}): install ${step.artifactPath} (sha256 ${step.artifactSha256}), bind ${step.bind.host}:${step.bind.port}, env file 0600: ${step.env.join(' ')}`];
    case 'slot-start':
      return [step.argv ? `start slot ${step.slot}: $ ${formatArgv(step.argv)}` : `start slot ${step.slot}`];
    case 'slot-stop':
      return [`stop slot ${step.slot}`];
    case 'slot-delete':
      return [`delete slot ${step.slot} (stop its processes, remove its directory)`];
    case 'command':
      return [`in slot ${step.slot}: $ ${formatArgv(step.argv)}${step.description ? `   # ${step.description}` : ''}`];
    case 'append-line':
      return [`append to ${step.path}: ${step.line}`];
    case 'create-file':
      return [`create ${step.path}`];
    case 'remove-file':
      return [`remove ${step.path}`];
    case 'data':
      return formatPlan(step.plan);
    case 'data-stop':
      return ['stop the data services if they run (their data stays)'];
    case 'edge-up':
      return [step.running ? `edge ${step.edge} runs; make it serve the recorded colours` : `start edge ${step.edge}`];
    case 'edge-stop':
      return [step.running ? `stop edge ${step.edge}` : `edge ${step.edge} does not run: nothing to stop`];
    case 'switch':
      return [`switch edge ${step.edge} to ${step.color} (release ${step.release}): validate with haproxy -c, back up, rename into place, apply without dropping a request`];
    case 'wait-healthy':
      return [`wait up to ${step.timeoutMs} ms for ${step.slot} to answer 2xx on port ${step.port} ${step.path}, probed ${step.probedFrom}`];
    case 'probe-from-edge':
      return [step.slot ? `probe ${step.slot} at ${step.url} from the edge` : `probe ${step.url} from edge ${step.edge}`];
    case 'verify':
      return [`verify ${step.component}: ${step.path} through the public URL reports release ${step.release} (up to ${step.retries} tries, ${step.intervalMs} ms apart)`];
    default:
      return describeSwitchStep(step);
  }
}
