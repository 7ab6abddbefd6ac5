import { promises as fs } from 'node:fs';
import { VezaError } from '../log/errors';
import type { Logger } from '../log/logger';
import { redact } from '../log/redact';
import { formatArgv, type Command, type ProcessRunner, type RunResult } from '../ports/process';

/**
 * What to tell the user when a step fails: the first `when` that matches the
 * step's output picks the hint, else `otherwise`. Data, like the command, so
 * a plan can be printed and compared.
 */
export interface FailureHints {
  when?: { match: RegExp; hint: string }[];
  otherwise: string;
  /** The output lines worth quoting (file:line errors, failed tests); the last lines otherwise. */
  quote?: RegExp;
}

/**
 * A build plan is a list of steps as data: presets build it without side
 * effects, so a dry-run can print it and tests can read it; `runSteps` is
 * the one place that carries it out.
 */
export type BuildStep =
  | { kind: 'run'; command: Command; onFailure?: FailureHints }
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

/** A few lines of what the tool said, the ones that name the problem when the step knows them; the rest is in the debug log. */
function quoted(res: RunResult, n: number, pick?: RegExp): string {
  const lines = `${res.stderr}\n${res.stdout}`.split('\n').map((l) => l.trim()).filter(Boolean);
  const picked = pick ? lines.filter((l) => pick.test(l)).slice(0, n) : [];
  return redact((picked.length ? picked : lines.slice(-n)).join(' | '));
}

/** One line: the component, the step, what the tool said, and what to do next. */
export function stepFailed(component: string, step: Extract<BuildStep, { kind: 'run' }>, res: RunResult): VezaError {
  const output = `${res.stdout}\n${res.stderr}`;
  const hints = step.onFailure;
  const hint = hints?.when?.find((w) => w.match.test(output))?.hint ?? hints?.otherwise ?? 'fix the cause above and re-run';
  const what = step.command.description ?? formatArgv(step.command.argv);
  const detail = quoted(res, 3, hints?.quote);
  return new VezaError(`${component}: ${what} failed (exit ${res.exitCode})${detail ? `: ${detail}` : ''}`, hint, 'COMMAND_FAILED');
}

export async function runSteps(steps: BuildStep[], opts: { runner: ProcessRunner; log: Logger; workspaceRoot: string; component: string }): Promise<void> {
  for (const step of steps) {
    opts.log.info(describeStep(step, opts.workspaceRoot), { phase: 'build' });
    if (step.kind === 'run') {
      const res = await opts.runner.run(step.command, { check: false });
      for (const line of `${res.stdout}\n${res.stderr}`.split('\n')) if (line.trim()) opts.log.debug(line, { phase: 'build' });
      if (res.exitCode !== 0) throw stepFailed(opts.component, step, res);
    } else {
      await fs.cp(step.from, step.to, { recursive: true, dereference: true, errorOnExist: true, force: false });
      if (step.mode !== undefined) await fs.chmod(step.to, step.mode);
    }
  }
}
