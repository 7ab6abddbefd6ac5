import { readFile } from 'node:fs/promises';
import type { IncusClient } from '../hosts/incus/client';
import { VezaError } from '../log/errors';
import type { Command, ProcessRunner, RunResult } from '../ports/process';
import { writeFileAtomic } from '../util/atomic';

/**
 * The machine the common baseline is applied to: this one, or a container
 * reached only through `incus exec`. The baseline asks it four things —
 * read a file, write one atomically with a mode, run a command and read its
 * exit code, and (through the commands below) whether a path or a binary is
 * there — so the same rendering, checks and installs run on both.
 */
export interface Machine {
  /** How messages name it: "this machine", "container veza-prod-postgres". */
  readonly label: string;
  /** Runs argv there; the caller reads the exit code. */
  run(c: Command): Promise<RunResult>;
  /** The file's content, undefined when it does not exist. */
  readFile(path: string): Promise<string | undefined>;
  /** Replaced atomically (temp file beside it, renamed): readers see the old or the new file. */
  writeFile(path: string, content: string, mode: number): Promise<void>;
}

// ---- what the baseline asks a machine, as data ----------------------------

export function pathExists(path: string): Command {
  return { argv: ['test', '-e', path], description: `look for ${path}` };
}

/**
 * `command -v` is a shell builtin; the name travels as $1, never spliced
 * into the script. dash answers 127 for a name it cannot find, the code a
 * missing `sh` would give too: the script says "no" as 1.
 */
export function binaryExists(name: string): Command {
  return { argv: ['sh', '-c', 'command -v "$1" || exit 1', 'veza', name], description: `look for ${name} on PATH` };
}

/** A staging directory for the checks, in the machine's own /tmp so its tools read it. */
export function makeStage(): Command {
  return { argv: ['mktemp', '-d', '/tmp/veza-baseline-XXXXXX'], description: 'make a staging directory' };
}

export function copyTree(from: string, to: string): Command {
  return { argv: ['cp', '-a', '--', from, to], description: `stage a copy of ${from}` };
}

export function removeTree(path: string): Command {
  return { argv: ['rm', '-rf', '--', path], description: `remove ${path}` };
}

/** A yes/no question: exit 0 is yes, 1 no; anything else (the exec did not get through) is an error. */
export async function ask(machine: Machine, c: Command): Promise<boolean> {
  const res = await machine.run(c);
  if (res.exitCode === 0) return true;
  if (res.exitCode === 1) return false;
  throw new VezaError(`${c.description ?? c.argv.join(' ')} on ${machine.label} failed (exit ${res.exitCode}): ${res.stderr.trim() || 'no message'}`,
    `check that ${machine.label} runs and answers commands, then run again; nothing was changed yet`, 'COMMAND_FAILED');
}

// ---- the two machines -----------------------------------------------------

export function localMachine(runner: ProcessRunner): Machine {
  return {
    label: 'this machine',
    run: (c) => runner.run(c, { check: false }),
    readFile: (path) => readFile(path, 'utf8').catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return undefined;
      throw e;
    }),
    writeFile: (path, content, mode) => writeFileAtomic(path, content, { mode }),
  };
}

/** Through the project's client: its exec, its read-file and write-file scripts (the Incus edge's own). */
export function incusMachine(client: IncusClient, container: string): Machine {
  return {
    label: `container ${container}`,
    run: (c) => client.exec(container, c.argv, { check: false, ...(c.env ? { env: c.env } : {}), ...(c.input !== undefined ? { input: c.input } : {}), timeoutMs: c.timeoutMs ?? 120_000, description: `${c.description ?? c.argv[0]} in ${container}` }),
    readFile: (path) => client.readFile(container, path),
    writeFile: (path, content, mode) => client.writeFile(container, path, content, { mode: mode.toString(8).padStart(4, '0'), description: `write ${container}:${path}` }),
  };
}
