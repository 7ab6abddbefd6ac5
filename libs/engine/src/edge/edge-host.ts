import type { Command } from '../ports/process';
import type { StateStore } from '../ports/state-store';
import type { ValidationResult } from './validate';

/**
 * The edge port: where one HAProxy runs and how the engine reaches it. The
 * switch, bootstrap and deploy only ever see this interface; `local` runs a
 * HAProxy process under `.veza/edges/<edge>/`, `incus` runs Debian's
 * haproxy.service in the edge container and reaches it through `incus exec`
 * and `incus file` (incus-edge-host.ts).
 */
export interface EdgeHostStatus {
  running: boolean;
  /** Master process id when running. */
  pid?: number;
  /** One line for humans: where it runs, or why it does not. */
  detail: string;
}

export interface ProbeResult {
  ok: boolean;
  status?: number;
  error?: string;
}

export interface EdgeHost {
  readonly kind: 'local' | 'incus';
  readonly edge: string;
  /** The live config file, for messages. */
  readonly configPath: string;
  /**
   * State of every environment this edge serves (active colour, histories,
   * locks, audit log) — it lives with the edge, as the seed kept it in
   * /var/lib/veza on the edge container, so co-hosted environments share one place.
   */
  readonly state: StateStore;
  /** Variables the rendered config expands (local: VEZA_EDGE_DIR). */
  readonly vars: Readonly<Record<string, string>>;

  /** The live config, or undefined before the first bootstrap. */
  readConfig(): Promise<string | undefined>;
  /** Replaces the live config atomically (temp file, fsync, rename). */
  writeConfig(text: string): Promise<void>;
  /** Keeps the live config as haproxy.cfg.bak beside it: a switch's restore point, left for forensics. */
  backupConfig(): Promise<void>;
  /** `haproxy -c` where the edge runs (its certificates, its variables); throws with HAProxy's messages. */
  validate(text: string): Promise<ValidationResult>;

  status(): Promise<EdgeHostStatus>;
  /** Starts HAProxy (master-worker) on the live config; returns once a worker serves. No-op when running. */
  start(): Promise<void>;
  /** Stops HAProxy gracefully, then by force after a timeout. No-op when stopped. */
  stop(): Promise<void>;
  /** Seamless master-worker reload of the live config; resolves once the new worker serves, throws if it was refused. */
  reload(): Promise<void>;
  /** Runtime API commands, in order, on the current worker; returns their combined output. */
  runtime(commands: string[]): Promise<string>;
  /** One Runtime API command with a payload, e.g. `set ssl cert <file>` and the new PEM: a certificate changes without a reload. */
  runtimePayload(command: string, payload: string): Promise<string>;
  /** GET http://<host>:<port><path> from where the edge runs: the edge's own view of a slot. */
  probe(host: string, port: number, path: string, timeoutMs: number): Promise<ProbeResult>;
  /**
   * A file where HAProxy runs (a certificate of its SNI directory), undefined when absent: the local
   * edge's own disk, or the edge container's, so infra-edge:certificates serves what HAProxy loads.
   */
  readFile(path: string): Promise<string | undefined>;
  /** Writes such a file atomically (temp file, fsync, rename) with this mode, making its directory. */
  writeFile(path: string, text: string, mode: number): Promise<void>;
  /** The names in a directory where HAProxy runs; empty when it does not exist. */
  listDir(dir: string): Promise<string[]>;
  /** The start command as data, for plans and dry-runs. */
  startCommand(): Command;
}
