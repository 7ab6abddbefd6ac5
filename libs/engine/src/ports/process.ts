import { execa } from 'execa';
import { VezaError } from '../log/errors';
import { redact } from '../log/redact';

/**
 * A command as data. Everything that runs goes through a ProcessRunner, so
 * a dry-run, the logs and the tests see exactly the argv that would run.
 * Secrets travel in `env` or `input`, never in `argv`.
 */
export interface Command {
  argv: string[];
  cwd?: string;
  env?: Record<string, string>;
  input?: string | Uint8Array;
  timeoutMs?: number;
  /** Run with exactly `env` and nothing of this process's environment (which may hold secrets the command must not see). */
  cleanEnv?: boolean;
  /** Why this command runs; shown in plans and errors. */
  description?: string;
}

export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface ProcessRunner {
  /** Runs the command; with `check` (the default) a non-zero exit throws a VezaError quoting it. */
  run(cmd: Command, opts?: { check?: boolean }): Promise<RunResult>;
  readonly dryRun: boolean;
}

/** Renders argv for humans: quoted only where needed, and redacted. */
export function formatArgv(argv: string[]): string {
  return redact(argv.map((a) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' '));
}

/**
 * argv for an error message: a script handed to `sh -c` (many lines) is
 * named by its size, not quoted whole, so the failure's own words stay
 * readable; the dry-run and the step log print it all.
 */
export function briefArgv(argv: string[]): string {
  return formatArgv(argv.map((a) => (a.includes('\n') ? `<${a.trim().split('\n').length}-line script>` : a)));
}

export function commandFailed(cmd: Command, res: RunResult): VezaError {
  const detail = (res.stderr || res.stdout).trim().split('\n').slice(-5).join(' | ');
  return new VezaError(
    `command failed (exit ${res.exitCode}): ${briefArgv(cmd.argv)}${detail ? `: ${redact(detail)}` : ''}`,
    cmd.description ? `this step was: ${cmd.description}; fix the cause above and re-run` : 'fix the cause above and re-run',
    'COMMAND_FAILED',
  );
}

export function createProcessRunner(): ProcessRunner {
  return {
    dryRun: false,
    async run(cmd, opts = {}) {
      const [file, ...args] = cmd.argv;
      if (!file) throw new VezaError('empty command', 'this is a bug in the plan builder; report it');
      const res = await execa(file, args, {
        cwd: cmd.cwd,
        env: cmd.env,
        extendEnv: !cmd.cleanEnv,
        input: cmd.input,
        timeout: cmd.timeoutMs,
        reject: false,
        stripFinalNewline: true,
      });
      if (res.failed && res.exitCode === undefined) {
        const why = res.timedOut ? `timed out after ${cmd.timeoutMs} ms` : res.shortMessage ?? 'could not start';
        throw new VezaError(`command did not run: ${formatArgv(cmd.argv)}: ${redact(why)}`,
          res.timedOut ? 'the service did not answer in time; check that it is running' : `install ${file} or check PATH`, 'COMMAND_FAILED');
      }
      const result: RunResult = { exitCode: res.exitCode ?? 1, stdout: String(res.stdout ?? ''), stderr: String(res.stderr ?? '') };
      if ((opts.check ?? true) && result.exitCode !== 0) throw commandFailed(cmd, result);
      return result;
    },
  };
}

/** Records commands instead of running them; every read returns an empty success. */
export function createRecordingRunner(): ProcessRunner & { commands: Command[] } {
  const commands: Command[] = [];
  return {
    dryRun: true,
    commands,
    async run(cmd) {
      commands.push(cmd);
      return { exitCode: 0, stdout: '', stderr: '' };
    },
  };
}
