import { promises as fs } from 'node:fs';
import { createServer } from 'node:net';
import { dirname } from 'node:path';
import { VezaError, describeError } from '../log/errors';
import type { Logger } from '../log/logger';
import { formatArgv, type Command, type ProcessRunner } from '../ports/process';
import { fsyncDir, readJsonOr, writeFileAtomic, writeJsonAtomic } from '../util/atomic';
import { isAlive, spawnDetached, type ProcessIdentity } from '../util/proc';

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
      /**
       * For an idempotent command whose server can go away under it (a formation still settling after a node
       * restarted): when it fails, `settle` is awaited and it runs again, `tries` times in all; the last failure is
       * the one reported.
       */
      again?: { tries: number; settle: WaitSpec };
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
  /** Changes nothing: fails unless `host:port` can be bound now, so a service is never stopped to move where it cannot listen. */
  | { kind: 'check-bind'; host: string; port: number }
  /**
   * Starts a long-running process detached into its own session (it
   * outlives this command), output appended to `logFile`; its identity
   * (pid, start time, boot id) goes to `pidFile`, by which it is found and
   * stopped later. Skipped while the recorded process still runs.
   */
  | { kind: 'spawn'; command: Command; pidFile: string; logFile: string }
  /** Polls `check` until it holds or `timeoutMs` passed (then fails with `what`). Changes nothing by itself. */
  | ({ kind: 'wait' } & WaitSpec)
);

export interface WaitSpec {
  what: string;
  timeoutMs: number;
  intervalMs?: number;
  check: () => Promise<boolean>;
}

export interface DataPlan {
  steps: PlanStep[];
  /** What was looked at and left alone, e.g. "snapshot pre-deploy-… exists". */
  notes: string[];
  /** One line for the end of the run. */
  summary: string;
  /**
   * Run when a step fails after the first change: puts the previous
   * settings back and the service up again, so a failed move never leaves
   * it down. Its own failure is reported beside the original one.
   */
  rollback?: PlanStep[];
}

function formatStep(step: PlanStep): string[] {
  const head = `# ${step.title}`;
  switch (step.kind) {
    case 'run':
      return [head, `$ ${formatArgv(step.command.argv)}${step.command.input !== undefined ? ' < (SQL on stdin, not shown)' : ''}`,
        ...(step.again ? [`  (if it fails: wait until ${step.again.settle.what}, then again; ${step.again.tries} tries in all)`] : [])];
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
    case 'check-bind':
      return [head, `check that ${step.host}:${step.port} can be bound (changes nothing)`];
    case 'spawn':
      return [head, `$ ${formatArgv(step.command.argv)} >> ${formatArgv([step.logFile])} &  (detached; identity in ${step.pidFile})`];
    case 'wait':
      return [head, `wait up to ${Math.round(step.timeoutMs / 1000)} s until ${step.what}`];
  }
}

export function formatPlan(plan: DataPlan): string[] {
  const rollback = plan.rollback?.length ? ['if a step fails, put the previous settings back:', ...plan.rollback.flatMap(formatStep).map((l) => `  ${l}`)] : [];
  return [...plan.notes.map((n) => `note: ${n}`), ...plan.steps.flatMap(formatStep), ...rollback, plan.summary];
}

export async function applyPlan(plan: DataPlan, runner: ProcessRunner, log: Logger): Promise<void> {
  for (const n of plan.notes) log.info(n);
  let changed = false;
  for (const step of plan.steps) {
    log.info(step.title);
    try {
      await applyStep(step, runner);
    } catch (e) {
      if (changed && plan.rollback?.length) throw await rollBack(plan.rollback, e, runner, log);
      throw e;
    }
    changed ||= step.kind !== 'check-bind' && step.kind !== 'wait';
  }
  log.info(plan.summary);
}

async function rollBack(steps: PlanStep[], cause: unknown, runner: ProcessRunner, log: Logger): Promise<VezaError> {
  const original = cause instanceof VezaError ? cause : new VezaError(describeError(cause), 'fix the cause above and re-run', 'DATA_FAILED');
  log.warn(`${original.message}: putting the previous settings back`);
  try {
    for (const step of steps) {
      log.info(step.title);
      await applyStep(step, runner);
    }
  } catch (r) {
    return new VezaError(`${original.message}; putting the previous settings back failed too: ${describeError(r)}`, 'the service may be down: check it now, fix the cause and re-run', original.code);
  }
  return new VezaError(`${original.message}; the previous settings were put back and the service runs with them`, original.hint, original.code);
}

async function applyStep(step: PlanStep, runner: ProcessRunner): Promise<void> {
  switch (step.kind) {
    case 'run':
      for (let tried = 1; ; tried++) {
        try {
          await runner.run(step.command);
          return;
        } catch (e) {
          if (step.again && tried < step.again.tries) {
            await waitUntil(step.again.settle);
            continue;
          }
          if (step.failureLog && e instanceof VezaError) throw new VezaError(`${e.message}; last lines of ${step.failureLog}: ${await tail(step.failureLog)}`, e.hint, e.code);
          throw e;
        }
      }
    case 'mkdir':
      // As `mkdir -p -m` (what a dry-run prints): the mode is the folder's own; parents it makes get the default, so
      // a private folder made first does not close its parents to the server user that needs a sibling.
      await fs.mkdir(dirname(step.path), { recursive: true });
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
    case 'check-bind':
      await checkBindable(step.host, step.port);
      return;
    case 'spawn':
      await startDetached(step.command, step.pidFile, step.logFile);
      return;
    case 'wait':
      await waitUntil(step);
      return;
  }
}

async function startDetached(cmd: Command, pidFile: string, logFile: string): Promise<void> {
  const current = await readJsonOr<ProcessIdentity | undefined>(pidFile, undefined);
  if (current && isAlive(current)) return;
  const id = spawnDetached(cmd.argv, { cwd: cmd.cwd, env: cmd.cleanEnv ? cmd.env : { ...process.env, ...cmd.env }, logFile });
  if (!id) throw new VezaError(`${formatArgv(cmd.argv)} did not start`, `read ${logFile}`, 'DATA_FAILED');
  await writeJsonAtomic(pidFile, id);
}

async function waitUntil(step: WaitSpec): Promise<void> {
  const deadline = Date.now() + step.timeoutMs;
  for (;;) {
    if (await step.check().catch(() => false)) return;
    if (Date.now() > deadline) throw new VezaError(`gave up after ${Math.round(step.timeoutMs / 1000)} s waiting until ${step.what}`, 'read the logs of the services named above, fix the cause and re-run', 'DATA_FAILED');
    await new Promise((r) => setTimeout(r, step.intervalMs ?? 500));
  }
}

function checkBindable(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (e: NodeJS.ErrnoException) => reject(new VezaError(`cannot listen on ${host}:${port} (${e.code ?? e.message})`,
      e.code === 'EADDRINUSE' ? 'another process holds that port: pick a free one' : 'use an address this machine has (a 127.x.y.z loopback address on local)', 'DATA_UNBINDABLE')));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve()));
  });
}

async function tail(file: string): Promise<string> {
  const text = await fs.readFile(file, 'utf8').catch(() => '');
  return text.trim().split('\n').slice(-5).join(' | ') || '(empty)';
}
