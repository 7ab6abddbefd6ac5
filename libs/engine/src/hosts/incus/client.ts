import { setTimeout as sleep } from 'node:timers/promises';
import { VezaError, isVezaError } from '../../log/errors';
import { commandFailed, type Command, type ProcessRunner, type RunResult } from '../../ports/process';
import * as cli from './cli';
import { parseInstances, type Instance } from './json';
import { shellScript } from '../../util/shell-script';

/**
 * One Incus project as the engine uses it: every call an argv through the
 * ProcessRunner (so dry-runs and tests see it), the failing command quoted in
 * every error, and the few in-container file operations built from constant
 * scripts whose data arrive as positional arguments or on stdin — never
 * spliced into a shell string.
 */
export interface ReadyOptions {
  timeoutMs: number;
  intervalMs?: number;
}

/** Written to stdin, renamed into place: readers see the old or the new file, never a torn one. */
const WRITE_FILE = shellScript('hosts/incus/scripts/write-file.sh');

/**
 * Exit 3 (MISSING) tells "no such file" apart from every other failure;
 * state-create-exclusive.sh exits with it for "already exists". The trailing
 * "." survives the runner's stripping of a final newline, so the content
 * comes back byte for byte.
 */
const READ_FILE = shellScript('hosts/incus/scripts/read-file.sh');
const LIST_DIR = shellScript('hosts/incus/scripts/list-dir.sh');
export const MISSING = 3;
/** incus's own exit code when the exec itself did not get through. */
export const EXEC_FAILED = 255;
/** A read that did not get through is tried again this often, pausing 0.3 s, 0.6 s, … in between. */
const READ_TRIES = 4;
const READ_PAUSE_MS = 300;
/** What an `accept` of readRepeatedly returns for an answer worth another try. */
export const AGAIN: unique symbol = Symbol('again');
/** systemctl's words for a D-Bus connection to PID 1 that broke, not for a unit that failed. */
const SYSTEMD_BUS_CUT = /Connection reset by peer|Transport endpoint is not connected|Failed to connect to bus|Connection timed out/;
/** A unit's ActiveState and main pid as systemd reported them, or why no answer came. */
export type UnitState = { state: string; pid?: number } | { unread: string };

export class IncusClient {
  readonly scope: cli.IncusScope;

  constructor(readonly runner: ProcessRunner, readonly project: string) {
    this.scope = { project };
  }

  /** Runs an incus command; a daemon that cannot be reached is reported as such, with the command. */
  async run(command: Command, opts: { check?: boolean } = {}): Promise<RunResult> {
    try {
      return await this.runner.run(command, opts);
    } catch (e) {
      // The client's own words for a daemon it cannot reach name the socket or the daemon; a bare "connection
      // refused" is as likely a command's inside a container (curl, redis-cli) and is that command's failure.
      if (isVezaError(e) && /unix\.socket|daemon.*(running|started)/i.test(e.message)) {
        throw new VezaError(`cannot reach the Incus daemon: ${e.message}`, 'start it (systemctl start incus, or bash tools/scripts/incus-setup.sh on a test machine) and check that this user may use its socket', 'INCUS_UNREACHABLE');
      }
      throw e;
    }
  }

  async instances(): Promise<Instance[]> {
    return parseInstances((await this.run(cli.listInstances(this.scope))).stdout);
  }

  async instance(name: string): Promise<Instance | undefined> {
    return (await this.instances()).find((i) => i.name === name);
  }

  /** Runs argv inside the instance; with `check: false` the caller reads the exit code. */
  exec(name: string, argv: string[], o: cli.ExecOptions & { check?: boolean } = {}): Promise<RunResult> {
    return this.run(cli.exec(this.scope, name, argv, o), { check: o.check });
  }

  /** A constant script with its data as positional arguments ($1…). */
  sh(name: string, script: string, args: string[], o: cli.ExecOptions & { check?: boolean } = {}): Promise<RunResult> {
    return this.exec(name, ['sh', '-c', script, 'veza', ...args], o);
  }

  writeFileCommand(name: string, path: string, content: string | Uint8Array, o: { owner?: string; mode?: string; description?: string } = {}): Command {
    return cli.exec(this.scope, name, ['sh', '-c', WRITE_FILE, 'veza', cli.checkPath(path), o.owner ?? 'root:root', o.mode ?? '0644'], {
      input: content,
      description: o.description ?? `write ${name}:${path}`,
    });
  }

  async writeFile(name: string, path: string, content: string | Uint8Array, o: { owner?: string; mode?: string; description?: string } = {}): Promise<void> {
    await this.run(this.writeFileCommand(name, path, content, o));
  }

  /** The file's content, or undefined when it does not exist. */
  /**
   * Runs a read-only command until `accept` makes sense of its answer, at
   * most READ_TRIES times, pausing a little longer each time: under load
   * `incus exec` can fail to get through, or exit 0 with its output cut
   * short, and a read is safe to repeat. `accept` returns AGAIN for an answer
   * worth another try and throws for a definite failure; after the last try
   * `exhausted` has the last answer.
   */
  async readRepeatedly<T>(command: Command, accept: (res: RunResult) => T | typeof AGAIN, exhausted: (last: RunResult) => T): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const res = await this.run(command, { check: false }).catch((e: unknown): RunResult => ({ exitCode: EXEC_FAILED, stdout: '', stderr: String(e) }));
      const value = accept(res);
      if (value !== AGAIN) return value;
      if (attempt >= READ_TRIES) return exhausted(res);
      await sleep(READ_PAUSE_MS * attempt);
    }
  }

  /**
   * What argv prints inside the instance (its exit code must be 0). Under load `incus exec` now and then exits 0
   * with the output dropped, so the script ends it with a sentinel and a cut answer is asked again.
   */
  output(name: string, argv: string[], o: cli.ExecOptions = {}): Promise<string> {
    const command = cli.exec(this.scope, name, ['sh', '-c', '"$@"; rc=$?; printf .; exit $rc', 'veza', ...argv], { description: `${argv[0]} in ${name}`, ...o });
    return this.readRepeatedly(command, (res) => {
      if (res.exitCode === 0 && res.stdout.endsWith('.')) return res.stdout.slice(0, -1);
      if (res.exitCode !== 0 && res.exitCode !== EXEC_FAILED) throw commandFailed(command, res);
      return AGAIN;
    }, (last) => {
      throw commandFailed(command, last);
    });
  }

  /**
   * A systemctl command that changes units (enable/disable --now): idempotent, so one whose connection to
   * systemd was cut (under load: "Reload daemon failed: Connection reset by peer") is run again, within a bound.
   */
  async systemctl(name: string, args: string[], o: { description: string; timeoutMs?: number }): Promise<void> {
    const command = cli.exec(this.scope, name, ['systemctl', ...args], { description: o.description, timeoutMs: o.timeoutMs ?? 120_000 });
    for (let attempt = 1; ; attempt++) {
      const res = await this.run(command, { check: false });
      if (res.exitCode === 0) return;
      if (attempt >= READ_TRIES || !SYSTEMD_BUS_CUT.test(res.stderr)) throw commandFailed(command, res);
      await sleep(READ_PAUSE_MS * attempt);
    }
  }

  /**
   * A systemd unit's state inside the instance. `systemctl show` answers for a stopped or unknown unit too, so an
   * answer without ActiveState is a read that did not get through (an exec cut short under load), not a state: it is
   * asked again, and after the last try the result says it could not be read — never "stopped".
   */
  unitState(name: string, unit: string): Promise<UnitState> {
    const command = cli.exec(this.scope, name, ['systemctl', 'show', unit, '--property', 'ActiveState', '--property', 'MainPID'], { description: `read the state of ${unit} in ${name}` });
    return this.readRepeatedly(command, (res): UnitState | typeof AGAIN => {
      const props = res.exitCode === 0 ? Object.fromEntries(res.stdout.split('\n').map((l) => l.split('=', 2) as [string, string])) : {};
      if (!props.ActiveState) return AGAIN;
      const pid = Number(props.MainPID);
      return { state: props.ActiveState, ...(pid > 0 ? { pid } : {}) };
    }, (last) => ({ unread: [`exit ${last.exitCode}`, last.stderr.trim()].filter(Boolean).join(': ') }));
  }

  /** The file's bytes (its script ends them with a sentinel, so a cut answer shows), undefined when it does not exist. */
  readFile(name: string, path: string): Promise<string | undefined> {
    return this.readPath(READ_FILE, name, path, `read ${name}:${path}`);
  }

  /** The directory's entries; none when it does not exist. A cut listing is asked again, never taken for an empty one. */
  async listDir(name: string, dir: string): Promise<string[]> {
    return (await this.readPath(LIST_DIR, name, dir, `list ${name}:${dir}`))?.split('\n').filter(Boolean) ?? [];
  }

  /** What a read script printed before its sentinel; undefined when it exits MISSING. */
  private readPath(script: string, name: string, path: string, description: string): Promise<string | undefined> {
    const command = cli.exec(this.scope, name, ['sh', '-c', script, 'veza', cli.checkPath(path)], { description });
    return this.readRepeatedly(command, (res) => {
      if (res.exitCode === MISSING) return undefined;
      if (res.exitCode === 0 && res.stdout.endsWith('.')) return res.stdout.slice(0, -1);
      if (res.exitCode !== 0 && res.exitCode !== EXEC_FAILED) throw commandFailed(command, res);
      return AGAIN;
    }, (last) => {
      throw commandFailed(command, last);
    });
  }

  /**
   * Bounded wait until the instance runs, has an IPv4 address, answers exec
   * and its init has finished booting (systemd: running or degraded).
   */
  async waitReady(name: string, o: ReadyOptions): Promise<Instance> {
    const deadline = Date.now() + o.timeoutMs;
    let last = 'not listed yet';
    for (;;) {
      const inst = await this.instance(name);
      if (!inst) last = 'it does not exist';
      else if (inst.status !== 'Running') last = `its status is ${inst.status}`;
      else if (inst.ipv4.length === 0) last = 'it has no IPv4 address yet (DHCP)';
      else {
        const res = await this.exec(name, ['systemctl', 'is-system-running'], { check: false, timeoutMs: 15_000, description: `check that ${name} has booted` }).catch((e: unknown) => ({ exitCode: -1, stdout: '', stderr: String(e) }));
        const state = res.stdout.trim();
        if (state === 'running' || state === 'degraded') return inst;
        last = `systemd is ${state || `not answering (${res.stderr.trim().split('\n').pop()})`}`;
      }
      if (Date.now() + (o.intervalMs ?? 500) > deadline) {
        throw new VezaError(`${name} did not become ready within ${o.timeoutMs} ms: ${last}`,
          `look at it with: incus info ${name} --show-log --project ${this.project}`, 'INSTANCE_NOT_READY');
      }
      await sleep(o.intervalMs ?? 500);
    }
  }
}
