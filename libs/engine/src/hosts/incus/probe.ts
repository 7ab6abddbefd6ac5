import { VezaError } from '../../log/errors';
import type { RunResult } from '../../ports/process';
import { shellScript } from '../../util/shell-script';

/**
 * The in-slot health probe (seed 001, phase C) as data: one GET of the
 * slot's health path on 127.0.0.1 inside its own container. It may only use
 * what every Debian image has — bash (Essential, built with /dev/tcp) and
 * coreutils' `timeout` — because curl is not in images:debian/13 and node is
 * not in a go or cargo component's container. It prints the status line and
 * nothing else; `timeout` bounds the whole exchange, a slow trickle included.
 */
export const PROBE_USER_AGENT = 'veza-slot-probe';

const PROBE_SCRIPT = shellScript('hosts/incus/scripts/probe.bash');

/** $0 of the script: how bash prefixes its own errors. */
const SCRIPT_NAME = 'veza-probe';

/** What `timeout` exits with when the deadline passed. */
const TIMED_OUT = 124;

/** argv run inside the slot: $1 the port, $2 the path. */
export function probeArgv(port: number, path: string, timeoutMs: number): string[] {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new VezaError(`invalid probe port ${port}`, 'run.port in component.json must be 1-65535', 'INVALID_INPUT');
  // Printable ASCII without spaces: anything else would break the request line.
  if (!/^\/[\x21-\x7e]*$/.test(path)) throw new VezaError(`invalid probe path ${JSON.stringify(path)}`, 'run.health in component.json must be an absolute path without spaces', 'INVALID_INPUT');
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1) throw new VezaError(`invalid probe timeout ${timeoutMs}`, 'this is a bug in the caller', 'INVALID_INPUT');
  return ['timeout', '-k', '1', `${timeoutMs / 1000}`, 'bash', '-c', PROBE_SCRIPT, SCRIPT_NAME, String(port), path];
}

/** The HTTP status the probe printed, or why there is none. */
export function probeAnswer(res: RunResult, timeoutMs: number): { status: number } | { error: string } {
  const m = /^HTTP\/\d(?:\.\d)? (\d{3})\b/.exec(res.stdout);
  if (res.exitCode === 0 && m) return { status: Number(m[1]) };
  if (res.exitCode === TIMED_OUT) return { error: `no answer within ${timeoutMs} ms` };
  const why = res.stderr.trim().split('\n').pop()?.replace(new RegExp(`^${SCRIPT_NAME}: (line \\d+: )?`), '').trim();
  return { error: why || (res.exitCode === 0 ? `not an HTTP answer: ${JSON.stringify(res.stdout.slice(0, 80))}` : `probe exit ${res.exitCode}`) };
}
