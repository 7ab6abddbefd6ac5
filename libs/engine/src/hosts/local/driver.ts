import { existsSync, readFileSync, promises as fs } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { describeError, VezaError } from '../../log/errors';
import { unpackArtifact } from '../../artifact/unpack';
import { createProcessRunner, type Command, type ProcessRunner, type RunResult } from '../../ports/process';
import { readJsonOr, writeFileAtomic, writeJsonAtomic } from '../../util/atomic';
import type { HostDriver, SlotInfo, SlotProbe, SlotSpec } from '../port';
import type { SlotRole } from '../naming';
import type { EnvName } from '../../config/names';
import { formatEnvFile, parseEnvFile } from './env-file';
import { checkSlotName, localSlotsDir, slotPaths, type SlotPaths } from './paths';
import { isAlive, signalIfAlive, spawnDetached, waitForExit, type ProcessIdentity } from '../../util/proc';
import { checkCommonSlotSpec, slotVars } from '../slot-spec';
import { describeTarget, httpGet, type HttpRequest } from '../../util/http';

/**
 * The `local` host driver: a slot is a directory under
 * `.veza/envs/<env>/slots/<name>/` (app/, env, slot.json, pid, log) plus a
 * supervised process bound to its own loopback address. Processes are
 * detached into their own session, so they outlive the Nx command that
 * started them; the pid file (pid + start time + boot id) lets the next
 * command find them again and never mistake a reused pid for a slot.
 */
export interface LocalDriverOptions {
  workspaceRoot: string;
  /** The one environment whose slots this driver creates and finds by name, as the Incus driver is bound to its environment's project. */
  env: EnvName;
  /** Runs exec() commands; defaults to the real process runner. */
  runner?: ProcessRunner;
  /** How long stop() waits after SIGTERM before SIGKILL. */
  stopTimeoutMs?: number;
}

/** What slot.json records: enough for status, forensics and start(). */
export interface SlotRecord {
  name: string;
  env: string;
  component: string;
  role: SlotRole;
  release: string;
  artifactSha256: string;
  bind: { host: string; port: number };
  command: string[];
  createdAt: string;
}

// A package file rather than __dirname's neighbour: Nx runs this module bundled into tools/executors/dist (tools/scripts/fresh-bundle.cjs).
const SUPERVISOR = require.resolve('@veza/engine/hosts/local/supervisor.js');
/** The little a slot inherits from the deploying shell; everything else comes from its env file, as in a container. */
const INHERITED_VARS = ['PATH', 'HOME', 'LANG', 'TZ'];
const LOOPBACK_V4 = /^127\.(25[0-5]|2[0-4]\d|1?\d?\d)\.(25[0-5]|2[0-4]\d|1?\d?\d)\.(25[0-5]|2[0-4]\d|1?\d?\d)$/;

export class LocalDriver implements HostDriver {
  readonly kind = 'local' as const;
  private readonly root: string;
  private readonly env: EnvName;
  /** This environment's slot directories: the only place a slot name is looked up. */
  private readonly slots: string;
  private readonly runner: ProcessRunner;
  private readonly stopTimeoutMs: number;

  constructor(opts: LocalDriverOptions) {
    this.root = resolve(opts.workspaceRoot);
    this.env = opts.env;
    this.slots = localSlotsDir(this.root, opts.env);
    this.runner = opts.runner ?? createProcessRunner();
    this.stopTimeoutMs = opts.stopTimeoutMs ?? 10_000;
  }

  async create(spec: SlotSpec): Promise<void> {
    const record = checkSpec(spec);
    if (spec.env !== this.env) {
      throw new VezaError(`slot ${spec.name} belongs to environment ${spec.env}, and this driver serves ${this.env}`, `create it through the driver of ${spec.env}`, 'INVALID_INPUT');
    }
    const vars = slotVars(spec);
    const slots = this.slots;
    await fs.mkdir(slots, { recursive: true, mode: 0o755 });
    await removeLeftovers(slots, spec.name);
    // Everything is prepared beside the live slot first: a bad artifact fails here and leaves the old slot untouched.
    const staging = join(slots, `.${spec.name}.new-${randomBytes(4).toString('hex')}`);
    try {
      await fs.mkdir(staging, { mode: 0o700 });
      const p = slotPaths(staging);
      await unpackArtifact({ file: spec.artifactPath, sha256: spec.artifactSha256, dest: p.app });
      await writeFileAtomic(p.envFile, formatEnvFile(vars), { mode: 0o600 });
      await writeJsonAtomic(p.slotJson, record);
      const live = join(slots, spec.name);
      if (existsSync(live)) {
        await stopSlot(slotPaths(live), this.stopTimeoutMs);
        const old = join(slots, `.${spec.name}.old-${randomBytes(4).toString('hex')}`);
        await fs.rename(live, old);
        await fs.rename(staging, live);
        await fs.rm(old, { recursive: true, force: true });
      } else {
        await fs.rename(staging, live);
      }
    } finally {
      await fs.rm(staging, { recursive: true, force: true });
    }
  }

  async start(name: string): Promise<void> {
    const p = this.find(name, 'start');
    const current = readIdentity(p.pidFile);
    if (current && isAlive(current)) return;
    // A command left behind by a supervisor that was killed outright still holds the port.
    await stopSlot(p, this.stopTimeoutMs);
    const record = await readRecord(p);
    const env = { ...inheritedEnv(), ...parseEnvFile(await fs.readFile(p.envFile, 'utf8'), p.envFile) };
    const id = spawnDetached([process.execPath, SUPERVISOR, p.childFile, '--', ...record.command], { cwd: p.app, env, logFile: p.log });
    if (!id) throw new VezaError(`slot ${name} did not start`, `read its log: ${this.logsCommand(name).join(' ')}`, 'SLOT_START_FAILED');
    await writeJsonAtomic(p.pidFile, id);
  }

  async stop(name: string): Promise<void> {
    const dir = this.locate(checkSlotName(name));
    if (dir) await stopSlot(slotPaths(dir), this.stopTimeoutMs);
  }

  async delete(name: string): Promise<void> {
    const dir = this.locate(checkSlotName(name));
    if (!dir) return;
    await stopSlot(slotPaths(dir), this.stopTimeoutMs);
    await fs.rm(dir, { recursive: true, force: true });
  }

  async list(env: string): Promise<SlotInfo[]> {
    const slots = localSlotsDir(this.root, env);
    const out: SlotInfo[] = [];
    for (const name of await slotDirNames(slots)) {
      const p = slotPaths(join(slots, name));
      const record = await readJsonOr<SlotRecord | undefined>(p.slotJson, undefined);
      if (!record) continue;
      const id = readIdentity(p.pidFile);
      const running = id !== undefined && isAlive(id);
      out.push({
        name: record.name,
        component: record.component,
        role: record.role,
        state: running ? 'running' : 'stopped',
        release: record.release,
        ...(running ? { pid: id.pid } : {}),
        host: record.bind.host,
        port: record.bind.port,
      });
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  async exec(name: string, cmd: Command): Promise<RunResult> {
    const p = this.find(name, 'exec in');
    const vars = parseEnvFile(await fs.readFile(p.envFile, 'utf8'), p.envFile);
    return this.runner.run({
      ...cmd,
      cwd: cmd.cwd === undefined ? p.app : inside(p.app, cmd.cwd),
      env: { ...inheritedEnv(), ...vars, ...cmd.env },
    });
  }

  /** A slot is its own loopback address here, so "from where it runs" is a GET to that address. */
  async probe(name: string, port: number, path: string, timeoutMs: number): Promise<SlotProbe> {
    const dir = this.locate(checkSlotName(name));
    const record = dir === undefined ? undefined : await readJsonOr<SlotRecord | undefined>(slotPaths(dir).slotJson, undefined);
    if (!record) return { target: `slot ${name}`, error: 'the slot does not exist' };
    const req: HttpRequest = { host: record.bind.host, port, path, timeoutMs };
    try {
      return { target: describeTarget(req), status: (await httpGet(req)).status };
    } catch (e) {
      return { target: describeTarget(req), error: describeError(e) };
    }
  }

  logsCommand(name: string, opts: { follow?: boolean } = {}): string[] {
    return ['tail', '-n', '200', ...(opts.follow === false ? [] : ['-f']), this.find(name, 'show the logs of').log];
  }

  /** Stops every slot process of the environment; returns the slot names. */
  async stopAll(): Promise<string[]> {
    const names = await slotDirNames(this.slots);
    await Promise.all(names.map((n) => stopSlot(slotPaths(join(this.slots, n)), this.stopTimeoutMs)));
    return names;
  }

  private locate(name: string): string | undefined {
    const dir = join(this.slots, name);
    return existsSync(join(dir, 'slot.json')) ? dir : undefined;
  }

  private find(name: string, verb: string): SlotPaths {
    const dir = this.locate(checkSlotName(name));
    if (!dir) throw new VezaError(`cannot ${verb} slot ${name}: it does not exist`, 'deploy first (nx run infra-deploy:deploy), or check the name with infra-deploy:status', 'NO_SLOT');
    return slotPaths(dir);
  }
}

export function createLocalDriver(opts: LocalDriverOptions): LocalDriver {
  return new LocalDriver(opts);
}

function checkSpec(spec: SlotSpec): SlotRecord {
  checkSlotName(spec.name);
  checkCommonSlotSpec(spec);
  if (spec.command.length === 0 || spec.command.some((a) => typeof a !== 'string' || a.includes('\0') || a === '')) {
    throw new VezaError(`invalid command for slot ${spec.name}: ${JSON.stringify(spec.command)}`, 'run.command in component.json must be a non-empty list of non-empty strings', 'INVALID_INPUT');
  }
  if (!LOOPBACK_V4.test(spec.bind.host)) {
    throw new VezaError(`slot ${spec.name} would bind ${spec.bind.host}`, 'the local driver binds only 127.x.y.z addresses; check local.subnet in the environment file', 'INVALID_INPUT');
  }
  return {
    name: spec.name,
    env: spec.env,
    component: spec.component,
    role: spec.role,
    release: spec.release,
    artifactSha256: spec.artifactSha256,
    bind: { host: spec.bind.host, port: spec.bind.port },
    command: [...spec.command],
    createdAt: new Date().toISOString(),
  };
}

function inheritedEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of INHERITED_VARS) if (process.env[k] !== undefined) out[k] = process.env[k]!;
  return out;
}

function inside(root: string, rel: string): string {
  const full = resolve(root, rel);
  const r = relative(root, full);
  if (isAbsolute(rel) || r.startsWith('..') || isAbsolute(r)) {
    throw new VezaError(`working directory ${JSON.stringify(rel)} leaves the slot`, 'use a path relative to the artifact root', 'INVALID_INPUT');
  }
  return full;
}

async function readRecord(p: SlotPaths): Promise<SlotRecord> {
  const record = await readJsonOr<SlotRecord | undefined>(p.slotJson, undefined);
  if (!record) throw new VezaError(`${p.slotJson} is missing`, 're-create the slot with a deploy', 'BAD_STATE');
  return record;
}

function readIdentity(file: string): ProcessIdentity | undefined {
  try {
    const v = JSON.parse(readFileSync(file, 'utf8')) as ProcessIdentity;
    return Number.isInteger(v.pid) && v.pid > 0 && typeof v.startTime === 'string' && typeof v.bootId === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}

async function slotDirNames(slots: string): Promise<string[]> {
  const entries = await fs.readdir(slots, { withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name).sort();
}

/** Staging or old copies left by a create() that was killed half-way. */
async function removeLeftovers(slots: string, name: string): Promise<void> {
  for (const e of await fs.readdir(slots)) {
    if (e.startsWith(`.${name}.new-`) || e.startsWith(`.${name}.old-`)) {
      const p = slotPaths(join(slots, e));
      await stopSlot(p, 0);
      await fs.rm(p.dir, { recursive: true, force: true });
    }
  }
}

/**
 * SIGTERM to the supervisor (it forwards to its command and exits), a bounded
 * wait, then SIGKILL to the supervisor's process group. Only processes whose
 * recorded identity still matches are signalled; a command orphaned by a
 * supervisor killed outright is found through the child file and stopped too.
 */
async function stopSlot(p: SlotPaths, timeoutMs: number): Promise<void> {
  const supervisor = readIdentity(p.pidFile);
  const child = readIdentity(p.childFile);
  const ours = [supervisor, child].filter((x): x is ProcessIdentity => x !== undefined && isAlive(x));
  if (ours.length > 0) {
    const first = ours[0]!;
    signalIfAlive(first, 'SIGTERM');
    let left = await waitForExit(ours, timeoutMs);
    if (left.length > 0) {
      if (supervisor) signalIfAlive(supervisor, 'SIGKILL', { group: true });
      for (const id of left) signalIfAlive(id, 'SIGKILL');
      left = await waitForExit(left, 5_000);
      if (left.length > 0) {
        throw new VezaError(`processes ${left.map((x) => x.pid).join(', ')} of ${p.dir} survived SIGKILL`, 'check them with ps; they may be stuck in the kernel (D state)', 'STOP_FAILED');
      }
    }
  }
  await fs.rm(p.pidFile, { force: true });
  await fs.rm(p.childFile, { force: true });
}
