import type { Command, RunResult } from '../ports/process';
import type { SlotRole } from './naming';

/**
 * The host driver port: where slots (containers, or local processes) live.
 * `local` and `incus` implement it; the deploy engine only ever sees this.
 */
export interface SlotSpec {
  /** Full slot name from hosts/naming.ts slotName(). */
  name: string;
  env: string;
  component: string;
  role: SlotRole;
  /** Release sha this slot runs (recorded for status and forensics). */
  release: string;
  /** Verified local path of the component's .tar.zst; the driver unpacks or pushes it. */
  artifactPath: string;
  artifactSha256: string;
  /** argv run from the unpacked artifact root. */
  command: string[];
  /** Debian packages the slot needs from its OS (`run.needs`); none for a static binary. */
  needs: string[];
  /** Address and port the process binds (local: loopback address; incus: 0.0.0.0). */
  bind: { host: string; port: number };
  /** Runtime environment; written to a 0600 env file, never put in argv. */
  vars: Record<string, string>;
}

/** `unknown`: the state could not be read (a failed `incus exec`, say) — never taken for stopped. */
export type SlotState = 'running' | 'stopped' | 'absent' | 'unknown';

export interface SlotInfo {
  name: string;
  component: string;
  role: SlotRole;
  state: SlotState;
  release?: string;
  pid?: number;
  /** Address the edge and probes use. */
  host: string;
  port: number;
}

/** One GET of a slot's health path, as seen from where the slot runs. */
export interface SlotProbe {
  /** Where the GET went, for messages, e.g. `http://127.0.0.1:8080/health inside veza-prod-api-blue`. */
  target: string;
  /** The HTTP status; absent when nothing answered. */
  status?: number;
  /** Why nothing answered. */
  error?: string;
}

/** What one component's slots need from their OS. */
export interface SlotNeeds {
  component: string;
  needs: string[];
}

export interface HostDriver {
  readonly kind: 'local' | 'incus';
  /**
   * Makes ready, before any slot changes, what the slots of a release need
   * from their OS (incus: one runtime image per distinct set of needs), so
   * a need the host cannot provide fails the deploy there. Returns a
   * summary. A driver without it (local) checks its host before the deploy
   * starts instead.
   */
  prepare?(slots: SlotNeeds[], step: (line: string) => void): Promise<string>;
  /** Creates (or re-creates) the slot: removes an old one of that name, installs the artifact and env. */
  create(spec: SlotSpec): Promise<void>;
  /** Starts a created slot; a slot already running is left as it is. */
  start(name: string): Promise<void>;
  /** Stops the slot's processes (SIGTERM, bounded wait, SIGKILL); an absent or stopped slot is a no-op. */
  stop(name: string): Promise<void>;
  /** Stops and removes the slot; an absent slot is a no-op. */
  delete(name: string): Promise<void>;
  /** Slots of one environment with their live state. */
  list(env: string): Promise<SlotInfo[]>;
  /** Runs a command inside the slot (cwd: the artifact root, env: the slot's env file plus cmd.env). */
  exec(name: string, cmd: Command): Promise<RunResult>;
  /**
   * GETs `path` on the slot's own `port` from where the slot runs (seed 001's
   * in-container probe): incus execs inside the slot's container against
   * 127.0.0.1, so the runner needs no route to the Incus network; local GETs
   * the slot's loopback address. Never throws for a slot that does not answer.
   */
  probe(name: string, port: number, path: string, timeoutMs: number): Promise<SlotProbe>;
  /** The one command an operator pastes to read a slot's logs: the last 200 lines, then what follows unless `follow` is false. */
  logsCommand(name: string, opts?: { follow?: boolean }): string[];
}
