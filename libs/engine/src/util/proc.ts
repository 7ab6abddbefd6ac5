import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';

/**
 * Who a recorded pid really is. A pid alone is not an identity: after the
 * process dies the kernel hands the number to someone else. The start time
 * (field 22 of /proc/<pid>/stat, clock ticks since boot) plus the boot id
 * tell the process we started from any later holder of the same pid, so we
 * never report a stranger as our slot, and never signal one.
 */
export interface ProcessIdentity {
  pid: number;
  startTime: string;
  bootId: string;
}

interface ProcStat {
  state: string;
  startTime: string;
}

function readProcStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces and parentheses: fields after the last ')' are safe to split.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  if (rest.length < 20) return undefined;
  return { state: rest[0]!, startTime: rest[19]! };
}

export function readBootId(): string {
  return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
}

/** The identity of a process that exists right now, or undefined when it does not. */
export function identify(pid: number): ProcessIdentity | undefined {
  const stat = readProcStat(pid);
  if (!stat || stat.state === 'Z' || stat.state === 'X') return undefined;
  return { pid, startTime: stat.startTime, bootId: readBootId() };
}

/** True only while the very process recorded in `id` runs (a zombie has finished). */
export function isAlive(id: ProcessIdentity): boolean {
  const now = identify(id.pid);
  return now !== undefined && now.startTime === id.startTime && now.bootId === id.bootId;
}

/**
 * Signals the recorded process, and with `group` its whole process group,
 * only after checking it is still ours. Returns whether a signal was sent.
 */
export function signalIfAlive(id: ProcessIdentity, signal: NodeJS.Signals, opts: { group?: boolean } = {}): boolean {
  if (!isAlive(id)) return false;
  try {
    process.kill(opts.group ? -id.pid : id.pid, signal);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw e;
  }
}

/** Polls until none of `ids` is alive or `timeoutMs` passed; returns those still alive. */
export async function waitForExit(ids: ProcessIdentity[], timeoutMs: number, pollMs = 25): Promise<ProcessIdentity[]> {
  const deadline = Date.now() + timeoutMs;
  let alive = ids.filter(isAlive);
  while (alive.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, pollMs));
    alive = alive.filter(isAlive);
  }
  return alive;
}

/**
 * Starts `argv` detached into its own session (it outlives this process and
 * leads its own process group), output appended to `logFile`; returns its
 * identity, or undefined when it did not start.
 */
export function spawnDetached(argv: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; logFile: string }): ProcessIdentity | undefined {
  const [file, ...args] = argv;
  const log = openSync(opts.logFile, 'a', 0o600);
  let pid: number | undefined;
  try {
    const child = spawn(file!, args, { cwd: opts.cwd, env: opts.env, detached: true, stdio: ['ignore', log, log] });
    // A failed spawn shows as the missing pid; without a listener its 'error' event would crash us.
    child.once('error', () => undefined);
    child.unref();
    pid = child.pid;
  } finally {
    closeSync(log);
  }
  return pid === undefined ? undefined : identify(pid);
}
