import { VezaError } from '../../log/errors';
import type { Command } from '../../ports/process';

/**
 * The `incus` command lines the driver, the host bootstrap, the edge host and
 * the data tier run, as data: pure functions from names to argv. Every
 * command names its project explicitly, so nothing depends on the client's
 * current project. Reads ask for `--format json`. Nothing here ever carries
 * a secret: file contents and passwords travel on stdin (`input`).
 */
export const INCUS = 'incus';

/** Instance, profile and snapshot names: what Incus accepts and a path segment can hold. */
const NAME = /^[a-z][a-z0-9-]{0,62}$/;
/** Container paths: absolute, no `..`, nothing a shell or Incus would read specially. */
const PATH = /^\/[A-Za-z0-9._@%+=:,/-]*$/;
/** `key=value` device and config settings: no newline, no NUL. */
const SETTING = /^[a-z][a-z0-9._-]*=[^\n\0]*$/;

export function checkName(kind: string, name: string): string {
  if (!NAME.test(name)) throw new VezaError(`invalid Incus ${kind} name ${JSON.stringify(name)}`, `use lower-case letters, digits and dashes (at most 63), starting with a letter`, 'INVALID_INPUT');
  return name;
}

export function checkPath(path: string): string {
  if (!PATH.test(path) || path.split('/').includes('..')) throw new VezaError(`invalid container path ${JSON.stringify(path)}`, 'use an absolute path without ".." or special characters', 'INVALID_INPUT');
  return path;
}

function checkSettings(settings: string[]): string[] {
  for (const s of settings) if (!SETTING.test(s)) throw new VezaError(`invalid Incus setting ${JSON.stringify(s)}`, 'settings look like key=value on one line', 'INVALID_INPUT');
  return settings;
}

export interface IncusScope {
  project: string;
}

function cmd(scope: IncusScope, args: string[], description: string, timeoutMs = 60_000, extra: Partial<Command> = {}): Command {
  return global([...args, '--project', checkProject(scope.project)], description, timeoutMs, extra);
}

/**
 * Stdin is always given, empty when there is nothing to send: `incus
 * project/profile create` and friends read YAML from a stdin that is not a
 * terminal, and would wait forever on an open pipe.
 */
function global(args: string[], description: string, timeoutMs = 60_000, extra: Partial<Command> = {}): Command {
  return { argv: [INCUS, ...args], description, timeoutMs, input: '', ...extra };
}

function checkProject(project: string): string {
  if (project !== 'default') checkName('project', project);
  return project;
}

/** Server reachability and version: fails fast when the daemon or its socket is missing. */
export function serverInfo(): Command {
  return global(['query', '/1.0'], 'reach the Incus daemon', 15_000);
}

export function listInstances(scope: IncusScope): Command {
  return cmd(scope, ['list', '--format', 'json'], 'list the Incus instances', 60_000);
}

export interface LaunchOptions {
  image: string;
  name: string;
  profiles: string[];
  network: string;
  pool: string;
  /** Non-secret instance settings, e.g. user.veza.* labels read back by list(). */
  config?: Record<string, string>;
}

export function launch(scope: IncusScope, o: LaunchOptions): Command {
  if (!/^([a-z0-9][a-z0-9.-]*:)?[A-Za-z0-9][A-Za-z0-9._/-]*$/.test(o.image)) {
    throw new VezaError(`invalid Incus image ${JSON.stringify(o.image)}`, 'use an alias such as images:debian/13 or a local alias such as veza-test-base', 'INVALID_INPUT');
  }
  const args = ['launch', o.image, checkName('instance', o.name), '--quiet'];
  for (const p of o.profiles) args.push('--profile', checkName('profile', p));
  args.push('--network', checkName('network', o.network), '--storage', checkName('storage pool', o.pool));
  for (const [k, v] of Object.entries(o.config ?? {}).sort()) args.push('--config', checkSettings([`${k}=${v}`])[0]!);
  return cmd(scope, args, `launch ${o.name} from ${o.image}`, 5 * 60_000);
}

export function deleteInstance(scope: IncusScope, name: string): Command {
  return cmd(scope, ['delete', checkName('instance', name), '--force'], `delete ${name}`, 2 * 60_000);
}

export function stopInstance(scope: IncusScope, name: string): Command {
  return cmd(scope, ['stop', checkName('instance', name)], `stop ${name}`, 2 * 60_000);
}

export function startInstance(scope: IncusScope, name: string): Command {
  return cmd(scope, ['start', checkName('instance', name)], `start ${name}`, 2 * 60_000);
}

export interface ExecOptions {
  /** Working directory inside the instance. */
  cwd?: string;
  /** Non-secret variables only: they are part of the argv. Secrets go in a pushed file or on stdin. */
  env?: Record<string, string>;
  /** Numeric ids, as `incus exec` wants them. */
  uid?: number;
  gid?: number;
  /** Bytes for the command's stdin; without it stdin is closed. */
  input?: string | Uint8Array;
  timeoutMs?: number;
  description?: string;
}

export function exec(scope: IncusScope, name: string, argv: string[], o: ExecOptions = {}): Command {
  if (argv.length === 0 || argv.some((a) => a.includes('\0'))) throw new VezaError(`invalid command for ${name}: ${JSON.stringify(argv)}`, 'this is a bug in the caller', 'INVALID_INPUT');
  const args = ['exec', checkName('instance', name)];
  if (o.input === undefined) args.push('--disable-stdin');
  if (o.cwd !== undefined) args.push('--cwd', checkPath(o.cwd));
  for (const [k, v] of Object.entries(o.env ?? {}).sort()) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) || v.includes('\0') || v.includes('\n')) throw new VezaError(`invalid variable ${k} for incus exec`, 'variables passed with --env are names and one-line values', 'INVALID_INPUT');
    args.push('--env', `${k}=${v}`);
  }
  if (o.uid !== undefined) args.push('--user', String(o.uid));
  if (o.gid !== undefined) args.push('--group', String(o.gid));
  // `--project` must precede `--`: everything after it belongs to the command.
  return {
    argv: [INCUS, ...args, '--project', checkProject(scope.project), '--', ...argv],
    description: o.description ?? `run ${argv[0]} in ${name}`,
    timeoutMs: o.timeoutMs ?? 60_000,
    input: o.input ?? '',
  };
}

export interface PushOptions {
  uid: number;
  gid: number;
  /** Octal string, e.g. 0600. */
  mode: string;
}

/** Copies a file of the runner into the instance; `source` '-' reads stdin (`input`). */
export function filePush(scope: IncusScope, name: string, source: string, dest: string, o: PushOptions, input?: string | Uint8Array): Command {
  if (!/^0[0-7]{3}$/.test(o.mode)) throw new VezaError(`invalid file mode ${o.mode}`, 'use four octal digits, e.g. 0600', 'INVALID_INPUT');
  const args = ['file', 'push', source, `${checkName('instance', name)}${checkPath(dest)}`, '--uid', String(o.uid), '--gid', String(o.gid), '--mode', o.mode, '--create-dirs', '--quiet'];
  return cmd(scope, args, `push ${source === '-' ? 'a file' : source} to ${name}:${dest}`, 5 * 60_000, input === undefined ? {} : { input });
}

export function snapshotCreate(scope: IncusScope, name: string, snapshot: string): Command {
  return cmd(scope, ['snapshot', 'create', checkName('instance', name), checkName('snapshot', snapshot)], `snapshot ${name} as ${snapshot}`, 30 * 60_000);
}

export function snapshotDelete(scope: IncusScope, name: string, snapshot: string): Command {
  return cmd(scope, ['snapshot', 'delete', checkName('instance', name), checkName('snapshot', snapshot)], `delete snapshot ${name}/${snapshot}`, 10 * 60_000);
}

export function snapshotList(scope: IncusScope, name: string): Command {
  return cmd(scope, ['snapshot', 'list', checkName('instance', name), '--format', 'json'], `list the snapshots of ${name}`);
}

export function listProfiles(scope: IncusScope): Command {
  return cmd(scope, ['profile', 'list', '--format', 'json'], 'list the Incus profiles');
}

export function profileCreate(scope: IncusScope, profile: string, description: string): Command {
  return cmd(scope, ['profile', 'create', checkName('profile', profile), '--description', description], `create profile ${profile}`);
}

export function profileRootDiskAdd(scope: IncusScope, profile: string, pool: string): Command {
  return cmd(scope, ['profile', 'device', 'add', checkName('profile', profile), 'root', 'disk', 'path=/', `pool=${checkName('storage pool', pool)}`], `give profile ${profile} a root disk on ${pool}`);
}

export function profileRootPoolSet(scope: IncusScope, profile: string, pool: string): Command {
  return cmd(scope, ['profile', 'device', 'set', checkName('profile', profile), 'root', `pool=${checkName('storage pool', pool)}`], `move profile ${profile}'s root disk to ${pool}`);
}

export function listStoragePools(scope: IncusScope): Command {
  return cmd(scope, ['storage', 'list', '--format', 'json'], 'list the Incus storage pools');
}

export function listNetworks(scope: IncusScope): Command {
  return cmd(scope, ['network', 'list', '--format', 'json'], 'list the Incus networks');
}

/** Projects are global: no `--project`. */
export function listProjects(): Command {
  return global(['project', 'list', '--format', 'json'], 'list the Incus projects');
}

/**
 * A project of its own for an environment: its own profiles and instances,
 * the default project's images, networks and storage volumes.
 */
export function projectCreate(project: string): Command {
  return global(['project', 'create', checkName('project', project),
    '--config', 'features.images=false', '--config', 'features.profiles=true', '--config', 'features.networks=false', '--config', 'features.storage.volumes=false'],
  `create Incus project ${project}`);
}

/** Seed 5f6625cc56, step 1: the pool a reference instance's own root device names. */
export function deviceGetRootPool(scope: IncusScope, instance: string): Command {
  return cmd(scope, ['config', 'device', 'get', checkName('instance', instance), 'root', 'pool'], `read ${instance}'s root pool`);
}

/** Seed 5f6625cc56, step 2: the expanded config, which includes what the instance's profiles give it. */
export function configShowExpanded(scope: IncusScope, instance: string): Command {
  return cmd(scope, ['config', 'show', checkName('instance', instance), '--expanded'], `read ${instance}'s expanded config`);
}

export function imageInfo(scope: IncusScope, image: string): Command {
  return cmd(scope, ['image', 'info', image], `look up image ${image}`);
}

/**
 * A stopped instance as an image under `alias`. Uncompressed: the image
 * never leaves this host, and every launch from it on a `dir` pool unpacks
 * it again, which a compressed image would make slower.
 */
export function publish(scope: IncusScope, instance: string, alias: string, properties: Record<string, string>): Command {
  const props = Object.entries(properties).sort().map(([k, v]) => `${k}=${v}`);
  return cmd(scope, ['publish', checkName('instance', instance), '--alias', checkName('image alias', alias), '--compression', 'none', '--quiet', ...checkSettings(props)],
    `publish ${instance} as image ${alias}`, 15 * 60_000);
}

export function deviceAdd(scope: IncusScope, instance: string, device: string, type: string, settings: string[]): Command {
  return cmd(scope, ['config', 'device', 'add', checkName('instance', instance), checkName('device', device), type, ...checkSettings(settings)], `add ${type} device ${device} to ${instance}`);
}

export function deviceSet(scope: IncusScope, instance: string, device: string, settings: string[]): Command {
  return cmd(scope, ['config', 'device', 'set', checkName('instance', instance), checkName('device', device), ...checkSettings(settings)], `update device ${device} of ${instance}`);
}

export function configSet(scope: IncusScope, instance: string, key: string, value: string): Command {
  return cmd(scope, ['config', 'set', checkName('instance', instance), ...checkSettings([`${key}=${value}`])], `set ${key}=${value} on ${instance}`);
}

/** First-time host initialisation (seed 65c20835c1): the preseed YAML on stdin. Global: no `--project`. */
export function adminInitPreseed(preseedYaml: string): Command {
  return global(['admin', 'init', '--preseed'], 'initialise the Incus host from a preseed', 5 * 60_000, { input: preseedYaml });
}
