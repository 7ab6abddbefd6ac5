import { constants, promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { Color } from '../config/names';
import { VezaError, describeError } from '../log/errors';
import { redact } from '../log/redact';
import type { Command, ProcessRunner } from '../ports/process';

/**
 * Deploy hooks: `infra/hooks/<event>` executables the deploy runs at its
 * turning points (Kamal's hooks, with one on failure). They get what
 * happened in a handful of VEZA_* variables and a bare PATH — never the
 * deployer's environment, which holds the registry token and the data
 * tier's passwords. Each runs from the workspace root with a time bound;
 * its exit code, duration and the tail of its output are logged and audited.
 *
 * - pre-deploy: before anything changes (after the lock); non-zero aborts.
 * - post-switch: the edge serves the new colour; non-zero switches back, as a failed verification does.
 * - post-deploy: the release is live and recorded; non-zero is a warning.
 * - on-failure: the deploy failed; its own failure is a warning and never hides the deploy's error.
 */
export const HOOK_EVENTS = ['pre-deploy', 'post-switch', 'post-deploy', 'on-failure'] as const;
export type HookEvent = (typeof HOOK_EVENTS)[number];

export const HOOKS_DIR = 'infra/hooks';
const OUTPUT_TAIL = 2_000;

export interface HookFacts {
  env: string;
  release: string;
  previousRelease?: string;
  color?: Color;
  actor: string;
  outcome?: 'success' | 'failure';
}

export interface HookRun {
  event: HookEvent;
  exitCode: number;
  durationMs: number;
  /** The last characters of its stdout and stderr, secrets redacted. */
  output: string;
}

/** The hooks the workspace has, checked before the deploy changes anything: each must be an executable file. */
export async function findHooks(workspaceRoot: string): Promise<Partial<Record<HookEvent, string>>> {
  const found: Partial<Record<HookEvent, string>> = {};
  for (const event of HOOK_EVENTS) {
    const path = join(workspaceRoot, HOOKS_DIR, event);
    const stat = await fs.stat(path).catch(() => undefined);
    if (!stat) continue;
    const rel = `${HOOKS_DIR}/${event}`;
    if (!stat.isFile()) throw new VezaError(`${rel} is not a file`, `make ${rel} an executable script, or remove it`, 'BAD_HOOK');
    if (!(await fs.access(path, constants.X_OK).then(() => true, () => false))) {
      throw new VezaError(`${rel} is not executable`, `chmod +x ${rel} (and commit the mode), or remove it`, 'BAD_HOOK');
    }
    found[event] = path;
  }
  return found;
}

/** The command a hook runs as: its path, the facts as VEZA_* variables, and nothing of the deployer's environment. */
export function hookCommand(path: string, event: HookEvent, facts: HookFacts, cwd: string, timeoutMs: number): Command {
  const env: Record<string, string> = {
    PATH: '/usr/local/bin:/usr/bin:/bin',
    LANG: 'C.UTF-8',
    VEZA_HOOK: event,
    VEZA_ENV: facts.env,
    VEZA_RELEASE: facts.release,
    VEZA_PREVIOUS_RELEASE: facts.previousRelease ?? '',
    VEZA_COLOR: facts.color ?? '',
    VEZA_ACTOR: facts.actor,
    VEZA_OUTCOME: facts.outcome ?? '',
  };
  return { argv: [path], cwd, env, cleanEnv: true, timeoutMs, description: `run the ${event} hook` };
}

/** Runs one hook; its run is returned whatever its exit code, and a hook that could not start or timed out counts as failed. */
export async function runHook(runner: ProcessRunner, cmd: Command, event: HookEvent): Promise<HookRun> {
  const began = Date.now();
  try {
    const r = await runner.run(cmd, { check: false });
    return { event, exitCode: r.exitCode, durationMs: Date.now() - began, output: tail(`${r.stdout}${r.stderr}`) };
  } catch (e) {
    return { event, exitCode: -1, durationMs: Date.now() - began, output: tail(describeError(e)) };
  }
}

export function describeHookRun(r: HookRun): string {
  const how = r.exitCode === 0 ? 'passed' : r.exitCode === -1 ? 'did not run to its end' : `exited ${r.exitCode}`;
  const out = r.output.trim().split('\n').slice(-3).join(' | ');
  return `the ${r.event} hook ${how} in ${r.durationMs} ms${out ? `: ${out}` : ''}`;
}

function tail(s: string): string {
  const r = redact(s);
  return r.length > OUTPUT_TAIL ? `…${r.slice(-OUTPUT_TAIL)}` : r;
}
