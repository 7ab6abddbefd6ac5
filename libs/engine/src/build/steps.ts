import { promises as fs } from 'node:fs';
import type { Logger } from '../log/logger';
import { formatArgv, type Command, type ProcessRunner } from '../ports/process';

/**
 * A build plan is a list of steps as data: presets build it without side
 * effects, so a dry-run can print it and tests can read it; `runSteps` is
 * the one place that carries it out.
 */
export type BuildStep =
  | { kind: 'run'; command: Command }
  /** Copies a file or folder (links followed, so nothing in the artifact points outside it). */
  | { kind: 'copy'; from: string; to: string; mode?: number };

export function describeStep(step: BuildStep, workspaceRoot: string): string {
  if (step.kind === 'run') return formatArgv(step.command.argv.map((a) => shorten(a, workspaceRoot)));
  return `copy ${shorten(step.from, workspaceRoot)} → ${shorten(step.to, workspaceRoot)}`;
}

/** Paths inside the workspace are shown relative to it, also inside flags such as --outfile=…. */
function shorten(arg: string, workspaceRoot: string): string {
  return arg.split(`${workspaceRoot}/`).join('');
}

export async function runSteps(steps: BuildStep[], opts: { runner: ProcessRunner; log: Logger; workspaceRoot: string }): Promise<void> {
  for (const step of steps) {
    opts.log.info(describeStep(step, opts.workspaceRoot), { phase: 'build' });
    if (step.kind === 'run') {
      const res = await opts.runner.run(step.command);
      for (const line of `${res.stdout}\n${res.stderr}`.split('\n')) if (line.trim()) opts.log.debug(line, { phase: 'build' });
    } else {
      await fs.cp(step.from, step.to, { recursive: true, dereference: true, errorOnExist: true, force: false });
      if (step.mode !== undefined) await fs.chmod(step.to, step.mode);
    }
  }
}
