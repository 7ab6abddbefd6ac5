import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join, posix } from 'node:path';
import type { Environment } from '../../config/environment';
import { validate } from '../../config/names';
import { plainTar } from '../../artifact/plain-tar';
import { unpackArtifact } from '../../artifact/unpack';
import { describeError, VezaError } from '../../log/errors';
import type { Command, ProcessRunner, RunResult } from '../../ports/process';
import type { HostDriver, SlotInfo, SlotNeeds, SlotProbe, SlotSpec, SlotState } from '../port';
import type { SlotRole } from '../naming';
import { checkEnvVars } from '../slot-spec';
import { formatSlotEnvFile } from './env-file';
import * as cli from './cli';
import { IncusClient } from './client';
import { APP_PROFILE, IncusHost, incusSettings, type IncusSettings } from './host';
import type { Instance } from './json';
import { probeAnswer, probeArgv } from './probe';
import { RuntimeImages } from './runtime-image';
import { EXEC_SCRIPT, INSTALL_SCRIPT, SLOT_PATHS, renderUnit, SLOT_UNIT } from './unit';
import { checkCommonSlotSpec, slotVars } from '../slot-spec';

/**
 * The `incus` host driver: a slot is a container of its own, launched from
 * the runtime image of what its component needs (or the environment's base
 * image when it needs nothing) with the `veza-app` profile on its network.
 * The artifact is verified and unpacked on the runner and its files
 * streamed in as a plain tar — no registry token, and no `zstd`, is ever
 * needed in a container; the component runs as a hardened
 * systemd unit under its own user, its variables in a 0600 env file pushed
 * over stdin. What the slot is (env, component, colour, release) lives in
 * the instance's own `user.veza.*` config, so one `incus list` answers list().
 * Only containers labelled as slots are ever deleted.
 */
export interface IncusDriverOptions {
  env: Environment;
  runner: ProcessRunner;
  /** Bounded wait for a new container: running, addressed, booted. */
  readyTimeoutMs?: number;
}

const LABEL = {
  slot: 'user.veza.slot',
  env: 'user.veza.env',
  component: 'user.veza.component',
  role: 'user.veza.role',
  release: 'user.veza.release',
  sha256: 'user.veza.artifact-sha256',
  port: 'user.veza.port',
} as const;

/** Debian's nobody/nogroup: a GET needs no privilege, and not the component's own. */
const NOBODY = 65_534;

const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;

export class IncusDriver implements HostDriver {
  readonly kind = 'incus' as const;
  private readonly client: IncusClient;
  private readonly settings: IncusSettings;
  private readonly host: IncusHost;
  private readonly readyTimeoutMs: number;
  private readonly images: RuntimeImages;

  constructor(opts: IncusDriverOptions) {
    this.settings = incusSettings(opts.env);
    this.client = new IncusClient(opts.runner, this.settings.project);
    this.host = new IncusHost(this.client, this.settings);
    this.readyTimeoutMs = opts.readyTimeoutMs ?? 120_000;
    this.images = new RuntimeImages(this.client, this.settings, this.readyTimeoutMs);
  }

  async prepare(slots: SlotNeeds[], step: (line: string) => void): Promise<string> {
    const { pool } = await this.host.ensure();
    const sets = new Map<string, { needs: string[]; components: string[] }>();
    for (const s of slots) {
      const needs = [...new Set(s.needs)].sort();
      const key = needs.join(' ');
      const set = sets.get(key) ?? sets.set(key, { needs, components: [] }).get(key)!;
      set.components.push(s.component);
    }
    const lines: string[] = [];
    for (const { needs, components } of sets.values()) {
      const { image, builtMs } = await this.images.ensure(needs, components, pool);
      const line = needs.length === 0 ? `${components.join(', ')}: the base image ${image} (no run.needs)`
        : `${components.join(', ')}: ${image} (${needs.join(' ')}) ${builtMs === undefined ? 'reused' : `built in ${(builtMs / 1000).toFixed(1)} s`}`;
      step(line);
      lines.push(line);
    }
    return `${sets.size} image(s): ${lines.map((l) => l.split(' (')[0]).join('; ')}`;
  }

  async create(spec: SlotSpec): Promise<void> {
    const labels = checkSpec(spec);
    const vars = slotVars(spec);
    // A bad artifact fails here, before the old slot is touched; the slot gets the files this unpack proved.
    const unpacked = await fs.mkdtemp(join(tmpdir(), 'veza-incus-unpack-'));
    try {
      await unpackArtifact({ file: spec.artifactPath, sha256: spec.artifactSha256, dest: join(unpacked, 'app') });
      const tar = await plainTar(join(unpacked, 'app'));
      const { pool } = await this.host.ensure();
      const { image } = await this.images.ensure(spec.needs, [spec.component], pool);
      const existing = await this.client.instance(spec.name);
      if (existing) {
        ownSlot(existing, spec.name, 're-create');
        await this.client.run(cli.deleteInstance(this.client.scope, spec.name));
      }
      await this.client.run(cli.launch(this.client.scope, { image, name: spec.name, profiles: [APP_PROFILE], network: this.settings.network, pool, config: labels }));
      await this.client.waitReady(spec.name, { timeoutMs: this.readyTimeoutMs });
      await this.client.sh(spec.name, INSTALL_SCRIPT, [spec.component, SLOT_PATHS.app], { input: tar, description: `install ${spec.component} in ${spec.name}`, timeoutMs: 5 * 60_000 });
    } finally {
      await fs.rm(unpacked, { recursive: true, force: true });
    }
    await this.client.writeFile(spec.name, SLOT_PATHS.envFile, formatSlotEnvFile(vars), { mode: '0600', description: `write the env file of ${spec.name}` });
    await this.client.writeFile(spec.name, `/etc/systemd/system/${SLOT_UNIT}`, renderUnit({ component: spec.component, role: spec.role, release: spec.release, command: spec.command }), { description: `write the unit of ${spec.name}` });
    await this.client.exec(spec.name, ['systemctl', 'daemon-reload'], { description: `load the unit of ${spec.name}` });
  }

  async start(name: string): Promise<void> {
    const inst = this.find(name, 'start', await this.client.instance(cli.checkName('slot', name)));
    if (inst.status !== 'Running') {
      await this.client.run(cli.startInstance(this.client.scope, name));
      await this.client.waitReady(name, { timeoutMs: this.readyTimeoutMs });
    }
    // enable: the slot comes back with its container after a host reboot.
    await this.client.systemctl(name, ['enable', '--now', SLOT_UNIT], { description: `start the unit of ${name}` });
  }

  async stop(name: string): Promise<void> {
    const inst = await this.client.instance(cli.checkName('slot', name));
    if (!inst || inst.status !== 'Running') return;
    ownSlot(inst, name, 'stop');
    await this.client.systemctl(name, ['disable', '--now', SLOT_UNIT], { description: `stop the unit of ${name}` });
  }

  async delete(name: string): Promise<void> {
    const inst = await this.client.instance(cli.checkName('slot', name));
    if (!inst) return;
    ownSlot(inst, name, 'delete');
    await this.client.run(cli.deleteInstance(this.client.scope, name));
  }

  async list(env: string): Promise<SlotInfo[]> {
    validate.env(env);
    const slots = (await this.client.instances()).filter((i) => i.config[LABEL.slot] === i.name && i.config[LABEL.env] === env);
    const out = await Promise.all(slots.map(async (i): Promise<SlotInfo> => {
      const unit = i.status === 'Running' ? await this.client.unitState(i.name, SLOT_UNIT) : undefined;
      const state: SlotState = !unit ? 'stopped' : 'unread' in unit ? 'unknown' : unit.state === 'active' ? 'running' : 'stopped';
      return {
        name: i.name,
        component: i.config[LABEL.component]!,
        role: i.config[LABEL.role] as SlotRole,
        state,
        release: i.config[LABEL.release],
        ...(state === 'running' && unit && 'pid' in unit && unit.pid ? { pid: unit.pid } : {}),
        host: `${i.name}.${this.settings.dnsSuffix}`,
        port: Number(i.config[LABEL.port]),
      };
    }));
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  async exec(name: string, cmd: Command): Promise<RunResult> {
    const inst = this.find(name, 'exec in', await this.client.instance(cli.checkName('slot', name)));
    const user = inst.config[LABEL.component]!;
    const cwd = cmd.cwd === undefined ? SLOT_PATHS.app : inside(cmd.cwd);
    // The command's own variables may be secrets: a 0600 file read once and removed, never --env.
    let extra = '-';
    if (cmd.env && Object.keys(cmd.env).length > 0) {
      checkEnvVars(cmd.env);
      extra = `/run/veza-exec-${randomBytes(6).toString('hex')}.env`;
      await this.client.writeFile(name, extra, formatSlotEnvFile(cmd.env), { mode: '0600', description: `pass the variables of an exec in ${name}` });
    }
    return this.client.run(cli.exec(this.client.scope, name, ['sh', '-c', EXEC_SCRIPT, 'veza-exec', SLOT_PATHS.envFile, extra, user, ...cmd.argv], {
      cwd,
      ...(cmd.input !== undefined ? { input: cmd.input } : {}),
      timeoutMs: cmd.timeoutMs ?? 10 * 60_000,
      description: cmd.description ?? `run ${cmd.argv[0]} in ${name}`,
    }));
  }

  async probe(name: string, port: number, path: string, timeoutMs: number): Promise<SlotProbe> {
    const argv = probeArgv(port, path, timeoutMs);
    const target = `http://127.0.0.1:${port}${path} inside ${cli.checkName('slot', name)}`;
    // `incus exec` itself takes a moment beyond the probe's own deadline, which `timeout` enforces inside.
    const command = cli.exec(this.client.scope, name, argv, { uid: NOBODY, gid: NOBODY, cwd: '/', timeoutMs: timeoutMs + 15_000, description: `probe ${path} inside ${name}` });
    try {
      return { target, ...probeAnswer(await this.client.run(command, { check: false }), timeoutMs) };
    } catch (e) {
      return { target, error: describeError(e) };
    }
  }

  logsCommand(name: string, opts: { follow?: boolean } = {}): string[] {
    return cli.exec(this.client.scope, cli.checkName('slot', name), ['journalctl', '--no-pager', '-n', '200', ...(opts.follow === false ? [] : ['-f']), '-u', SLOT_UNIT]).argv.filter((a) => a !== '--disable-stdin');
  }

  private find(name: string, verb: string, inst: Instance | undefined): Instance {
    if (!inst) throw new VezaError(`cannot ${verb} slot ${name}: it does not exist`, 'deploy first (nx run infra-deploy:deploy), or check the name with infra-deploy:status', 'NO_SLOT');
    return ownSlot(inst, name, verb);
  }
}

export function createIncusDriver(opts: IncusDriverOptions): IncusDriver {
  return new IncusDriver(opts);
}

/** A container of that name that is not a Veza slot is someone else's: never touched. */
function ownSlot(inst: Instance, name: string, verb: string): Instance {
  if (inst.config[LABEL.slot] !== name || !inst.config[LABEL.component]) {
    throw new VezaError(`refusing to ${verb} ${name}: that container exists but is not a Veza slot (no ${LABEL.slot} label)`,
      'rename or remove it by hand, or give the environment another prefix', 'NOT_A_SLOT');
  }
  return inst;
}

function checkSpec(spec: SlotSpec): Record<string, string> {
  cli.checkName('slot', spec.name);
  checkCommonSlotSpec(spec);
  if (spec.command.length === 0 || spec.command.some((a) => typeof a !== 'string' || a === '' || /[\n\r\0]/.test(a))) {
    throw new VezaError(`invalid command for slot ${spec.name}: ${JSON.stringify(spec.command)}`, 'run.command in component.json must be a non-empty list of non-empty one-line strings', 'INVALID_INPUT');
  }
  if (!IPV4.test(spec.bind.host)) {
    throw new VezaError(`slot ${spec.name} would bind ${spec.bind.host}`, 'an Incus slot binds an IPv4 address of its container, usually 0.0.0.0', 'INVALID_INPUT');
  }
  return {
    [LABEL.slot]: spec.name,
    [LABEL.env]: spec.env,
    [LABEL.component]: spec.component,
    [LABEL.role]: spec.role,
    [LABEL.release]: spec.release,
    [LABEL.sha256]: spec.artifactSha256,
    [LABEL.port]: String(spec.bind.port),
  };
}

function inside(rel: string): string {
  const full = posix.normalize(posix.join(SLOT_PATHS.app, rel));
  if (isAbsolute(rel) || (full !== SLOT_PATHS.app && !full.startsWith(`${SLOT_PATHS.app}/`))) {
    throw new VezaError(`working directory ${JSON.stringify(rel)} leaves the slot`, 'use a path relative to the artifact root', 'INVALID_INPUT');
  }
  return full;
}
