import { dirname, join } from 'node:path';
import type { HaSettings } from '../../config/environment';
import { localEnvDir } from '../../hosts/local/paths';
import { installTimersCommand, type TimerUnits } from '../../util/systemd';
import type { PlanStep } from '../plan';
import { renderBackupTimers } from './operations';

/** Backup-schedule units kept on the machine that runs veza, in `.veza/envs/<env>/timers/`. */
export interface RunnerTimers {
  dir: string;
  units: TimerUnits[];
}

/**
 * The schedule's jobs as units of this machine: they run the infra-data
 * targets from this checkout with this machine's npx. `which` picks the
 * jobs the driver leaves to the runner (on Incus only the drill: it makes a
 * container, and the nodes back themselves up).
 */
export function runnerTimers(env: string, backup: HaSettings['backup'], workspaceRoot: string, which: (name: string) => boolean = () => true): RunnerTimers {
  const units = renderBackupTimers({ env, backup, workspaceRoot, npx: join(dirname(process.execPath), 'npx') }).filter((u) => which(u.name));
  return { dir: join(localEnvDir(workspaceRoot, env), 'timers'), units };
}

export function runnerTimerFiles(t: RunnerTimers): { path: string; content: string }[] {
  return t.units.flatMap((u) => [{ path: join(t.dir, `${u.name}.service`), content: u.service }, { path: join(t.dir, `${u.name}.timer`), content: u.timer }]);
}

/**
 * The units, (re)written where they differ from `current` (path → content,
 * undefined when missing); systemd runs them once the operator links them,
 * which the note says how to do: veza does not run systemctl on the runner.
 */
export function runnerTimerSteps(t: RunnerTimers, current: Record<string, string | undefined>, dirExists: boolean, what: string): { steps: PlanStep[]; notes: string[] } {
  const changed = runnerTimerFiles(t).filter((f) => current[f.path] !== f.content);
  if (changed.length === 0) return { steps: [], notes: [] };
  return {
    steps: [
      ...(dirExists ? [] : [{ kind: 'mkdir', title: `create ${t.dir}`, path: t.dir, mode: 0o755 } as PlanStep]),
      ...changed.map((f): PlanStep => ({ kind: 'write', title: `write the backup schedule's ${f.path.split('/').at(-1)}`, path: f.path, content: f.content, mode: 0o644 })),
    ],
    notes: [`${what} ${t.units.length > 1 ? 'are' : 'is'} in ${t.dir}; to run ${t.units.length > 1 ? 'them' : 'it'}: ${installTimersCommand(t.dir, t.units.map((u) => u.name))}`],
  };
}
