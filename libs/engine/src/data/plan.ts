import { promises as fs } from 'node:fs';
import { dirname } from 'node:path';
import { VezaError } from '../log/errors';
import type { Logger } from '../log/logger';
import { formatArgv, type Command, type ProcessRunner } from '../ports/process';
import { fsyncDir, writeFileAtomic } from '../util/atomic';

/**
 * A data tier change as data: built from the inspected state by pure
 * functions, printed as it is by a dry-run, executed step by step otherwise.
 * Every step is safe to repeat, so a provision killed half-way converges on
 * the next run.
 */
export type PlanStep = { title: string } & (
  | {
      kind: 'run';
      command: Command;
      /** A log worth quoting when the command fails (the server's own log for pg_ctl). */
      failureLog?: string;
    }
  | { kind: 'mkdir'; path: string; mode: number }
  | {
      kind: 'write';
      path: string;
      content: string;
      mode: number;
      /** Content never shown (a generated password). */
      secret?: boolean;
      /** Gives the file the owner of this path (files inside a data directory belong to the server's user). */
      ownerLike?: string;
    }
  /** Appends `line` unless the file already has it. */
  | { kind: 'ensure-line'; path: string; line: string }
  | { kind: 'rename'; from: string; to: string }
  | { kind: 'remove'; path: string }
);

export interface DataPlan {
  steps: PlanStep[];
  /** What was looked at and left alone, e.g. "snapshot pre-deploy-… exists". */
  notes: string[];
  /** One line for the end of the run. */
  summary: string;
}

function formatStep(step: PlanStep): string[] {
  const head = `# ${step.title}`;
  switch (step.kind) {
    case 'run':
      return [head, `$ ${formatArgv(step.command.argv)}${step.command.input !== undefined ? ' < (SQL on stdin, not shown)' : ''}`];
    case 'mkdir':
      return [head, `$ mkdir -p -m ${step.mode.toString(8)} ${formatArgv([step.path])}`];
    case 'write':
      return [head, `write ${step.path} (mode ${step.mode.toString(8)})`, ...(step.secret ? ['  (secret, not shown)'] : step.content.trimEnd().split('\n').map((l) => `  | ${l}`))];
    case 'ensure-line':
      return [head, `ensure ${step.path} has the line: ${step.line}`];
    case 'rename':
      return [head, `$ mv ${formatArgv([step.from, step.to])}`];
    case 'remove':
      return [head, `$ rm -f ${formatArgv([step.path])}`];
  }
}

export function formatPlan(plan: DataPlan): string[] {
  return [...plan.notes.map((n) => `note: ${n}`), ...plan.steps.flatMap(formatStep), plan.summary];
}

export async function applyPlan(plan: DataPlan, runner: ProcessRunner, log: Logger): Promise<void> {
  for (const n of plan.notes) log.info(n);
  for (const step of plan.steps) {
    log.info(step.title);
    await applyStep(step, runner);
  }
  log.info(plan.summary);
}

async function applyStep(step: PlanStep, runner: ProcessRunner): Promise<void> {
  switch (step.kind) {
    case 'run':
      try {
        await runner.run(step.command);
      } catch (e) {
        if (step.failureLog && e instanceof VezaError) throw new VezaError(`${e.message}; last lines of ${step.failureLog}: ${await tail(step.failureLog)}`, e.hint, e.code);
        throw e;
      }
      return;
    case 'mkdir':
      await fs.mkdir(step.path, { recursive: true, mode: step.mode });
      await fs.chmod(step.path, step.mode);
      return;
    case 'write': {
      await writeFileAtomic(step.path, step.content, { mode: step.mode });
      if (step.ownerLike) {
        const owner = await fs.stat(step.ownerLike);
        await fs.chown(step.path, owner.uid, owner.gid);
      }
      return;
    }
    case 'ensure-line': {
      const text = await fs.readFile(step.path, 'utf8');
      if (text.split('\n').includes(step.line)) return;
      const st = await fs.stat(step.path);
      await writeFileAtomic(step.path, `${text.endsWith('\n') ? text : text + '\n'}${step.line}\n`, { mode: st.mode & 0o777 });
      await fs.chown(step.path, st.uid, st.gid);
      return;
    }
    case 'rename':
      await fs.rename(step.from, step.to);
      await fsyncDir(dirname(step.to));
      return;
    case 'remove':
      await fs.rm(step.path, { force: true });
      return;
  }
}

async function tail(file: string): Promise<string> {
  const text = await fs.readFile(file, 'utf8').catch(() => '');
  return text.trim().split('\n').slice(-5).join(' | ') || '(empty)';
}
