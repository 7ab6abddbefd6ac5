import { ENVIRONMENTS_DIR } from '../config/environment';
import { INCUS_DEFAULTS } from '../config/incus-placement';
import { PATTERNS } from '../config/names';
import type { Workspace } from '../config/workspace';
import { VezaError } from '../log/errors';
import { createProcessRunner, type Command, type ProcessRunner } from '../ports/process';
import * as cli from '../hosts/incus/cli';
import { IncusClient } from '../hosts/incus/client';
import { APP_PROFILE, IncusHost, incusSettings, type IncusSettings } from '../hosts/incus/host';
import type { Instance } from '../hosts/incus/json';
import { createIncusStateStore } from '../hosts/incus/state-store';
import { EDGES_DIR, type EdgeDefinition } from '../config/edge';
import type { EdgeHost, EdgeHostStatus, ProbeResult } from './edge-host';
import { masterWorker } from './master-worker';
import { checkCliRequest } from './runtime-api';
import { validateHaproxyConfig } from './validate';
import { shellScript } from '../util/shell-script';

/**
 * The Incus edge: HAProxy in a container named after the edge (seed:
 * veza-haproxy), run by the image's own haproxy.service (master-worker, its
 * master CLI on /run/haproxy-master.sock), reached only through `incus exec`
 * and `incus file`: the config is written in place atomically, validated by
 * that HAProxy, applied through the master CLI, and the state of every
 * environment it serves lives beside it in /var/lib/veza/state.
 *
 * The host forwards the edge's ports into the container with Incus proxy
 * devices (seed 0bd3e563b2): each address the edge file lists — 0.0.0.0
 * when it lists none — and its port, to 127.0.0.1:<port> inside; and a
 * loopback ACME responder the other way (proxyDevices).
 *
 * The container is created on the first write (bootstrap, a lock, a state
 * file); reads of an edge that does not exist yet find nothing.
 */
export const INCUS_EDGE_PATHS = {
  config: '/etc/haproxy/haproxy.cfg',
  master: '/run/haproxy-master.sock',
  state: '/var/lib/veza/state',
  dropIn: '/etc/systemd/system/haproxy.service.d/veza.conf',
} as const;

/** What the container needs besides the image; installed only when missing (images:debian/13 has none of them). */
const PACKAGES = ['haproxy', 'socat', 'curl'];
const MISSING_PACKAGES = 'for p in "$@"; do command -v "$p" >/dev/null || echo "$p"; done';
const VALIDATE = shellScript('edge/scripts/validate.sh');
const BACKUP = shellScript('edge/scripts/backup.sh');

export interface IncusEdgeHostOptions {
  /** edgeSettings() of the edge: where its container lives. */
  settings: IncusSettings;
  def: EdgeDefinition;
  runner?: ProcessRunner;
  readyTimeoutMs?: number;
}

export function createIncusEdgeHost(opts: IncusEdgeHostOptions): EdgeHost {
  const def = opts.def;
  const name = cli.checkName('edge container', def.name);
  const settings = opts.settings;
  const devices = proxyDevices(def);
  const runner = opts.runner ?? createProcessRunner();
  const client = new IncusClient(runner, settings.project);
  const host = new IncusHost(client, settings);
  const readyTimeoutMs = opts.readyTimeoutMs ?? 180_000;

  let ensured: Promise<void> | undefined;
  const ensure = (): Promise<void> => {
    ensured ??= ensureContainer();
    ensured.catch(() => (ensured = undefined));
    return ensured;
  };

  const ensureContainer = async (): Promise<void> => {
    const { pool } = await host.ensure();
    let inst = await client.instance(name);
    if (!inst) {
      await client.run(cli.launch(client.scope, { image: settings.image, name, profiles: [APP_PROFILE], network: settings.network, pool, config: { 'user.veza.edge': name } }));
    } else if (inst.status !== 'Running') {
      await client.run(cli.startInstance(client.scope, name));
    }
    inst = await client.waitReady(name, { timeoutMs: readyTimeoutMs });
    const missing = (await client.sh(name, MISSING_PACKAGES, PACKAGES, { description: `check the packages of ${name}` })).stdout.split('\n').filter(Boolean);
    if (missing.length) {
      await client.sh(name, 'apt-get update -q && apt-get install -y -q --no-install-recommends "$@"', missing, { env: { DEBIAN_FRONTEND: 'noninteractive' }, timeoutMs: 15 * 60_000, description: `install ${missing.join(', ')} in ${name}` });
    }
    for (const c of deviceCommands(client.scope, name, inst, devices)) await client.run(c);
    // The socket directory the rendered config names must exist whenever HAProxy starts.
    const dropIn = `# written by veza\n[Service]\nExecStartPre=/bin/mkdir -p ${def.runtime.socketDir}\n`;
    if ((await client.readFile(name, INCUS_EDGE_PATHS.dropIn)) !== dropIn) {
      await client.writeFile(name, INCUS_EDGE_PATHS.dropIn, dropIn, { description: `make ${def.runtime.socketDir} at every HAProxy start` });
      await client.exec(name, ['systemctl', 'daemon-reload'], { description: `reload systemd in ${name}` });
    }
  };

  const master = async (line: string, timeoutMs = 10_000): Promise<string> => {
    checkCliRequest(line);
    const res = await client.exec(name, ['socat', '-t', String(Math.ceil(timeoutMs / 1000)), 'STDIO', `UNIX-CONNECT:${INCUS_EDGE_PATHS.master}`], {
      input: `${line}\n`, timeoutMs: timeoutMs + 5_000, check: false, description: `HAProxy master CLI in ${name}`,
    });
    if (res.exitCode !== 0) throw new VezaError(`cannot reach HAProxy's master CLI in ${name}: ${res.stderr.trim() || `exit ${res.exitCode}`}`, 'start the edge with nx run infra-edge:bootstrap', 'EDGE_RUNTIME');
    return res.stdout;
  };
  const mw = masterWorker({
    request: master,
    edge: name,
    haproxy: `HAProxy in ${name}`,
    configPath: INCUS_EDGE_PATHS.config,
    checkCommand: `incus exec ${name} --project ${settings.project} -- haproxy -c -f ${INCUS_EDGE_PATHS.config}`,
    lookHint: `look at it: incus exec ${name} --project ${settings.project} -- journalctl -u haproxy -n 50`,
    waitMs: 20_000,
    pollMs: 100,
  });

  const status = async (): Promise<EdgeHostStatus> => {
    const inst = await client.instance(name);
    if (!inst) return { running: false, detail: `container ${name} does not exist yet (infra-edge:bootstrap creates it)` };
    if (inst.status !== 'Running') return { running: false, detail: `container ${name} is ${inst.status}` };
    // An unread state is not "stopped": "not running" refuses a switch or a certificate update (the Incus tier, at load 19).
    const unit = await client.unitState(name, 'haproxy.service');
    if ('unread' in unit) return { running: false, detail: `the state of HAProxy in ${name} could not be read (systemctl show gave no state, ${unit.unread})` };
    const pid = unit.pid ?? 0;
    if (unit.state !== 'active' || !(pid > 0)) return { running: false, detail: `HAProxy in ${name} is ${unit.state}` };
    return { running: true, pid, detail: `HAProxy master ${pid} in container ${name}, config ${INCUS_EDGE_PATHS.config}` };
  };

  const startCommand = (): Command => cli.exec(client.scope, name, ['systemctl', 'enable', '--now', 'haproxy.service'], { timeoutMs: 120_000, description: `start HAProxy in ${name}` });

  const edgeHost: EdgeHost = {
    kind: 'incus',
    edge: def.name,
    configPath: `${name}:${INCUS_EDGE_PATHS.config}`,
    state: createIncusStateStore({ client, container: name, dir: INCUS_EDGE_PATHS.state, ensure }),
    vars: {},
    async readConfig() {
      if (!(await client.instance(name))) return undefined;
      return client.readFile(name, INCUS_EDGE_PATHS.config);
    },
    async writeConfig(text) {
      await ensure();
      await client.writeFile(name, INCUS_EDGE_PATHS.config, text, { description: `write the config of ${name}` });
    },
    async readFile(path) {
      if (!(await client.instance(name))) return undefined;
      return client.readFile(name, path);
    },
    async writeFile(path, text, mode) {
      await ensure();
      await client.writeFile(name, path, text, { mode: mode.toString(8).padStart(4, '0'), description: `write ${name}:${path}` });
    },
    async listDir(dir) {
      if (!(await client.instance(name))) return [];
      return client.listDir(name, dir);
    },
    async backupConfig() {
      await client.sh(name, BACKUP, [INCUS_EDGE_PATHS.config], { description: `back up the config of ${name}` });
    },
    async validate(text) {
      // Before the container exists, the runner's own HAProxy checks it (with stand-ins for files only the edge has).
      const inst = await client.instance(name);
      if (inst?.status !== 'Running') return validateHaproxyConfig(text, { runner, label: `${name}:${INCUS_EDGE_PATHS.config}` });
      // As validate.ts does: slots that do not exist yet must not turn into resolver warnings under -dW.
      const checked = text.replace(/\binit-addr libc,none\b/g, 'init-addr none');
      const res = await client.sh(name, VALIDATE, [], { input: checked, check: false, timeoutMs: 60_000, description: `validate the config with haproxy -c in ${name}` });
      if (res.exitCode !== 0) {
        const lines = `${res.stderr}\n${res.stdout}`.split('\n').filter((l) => /\[(ALERT|WARNING)\]/.test(l))
          .map((l) => l.replace(/^\[(ALERT|WARNING)\]\s+\(\d+\)\s*:\s*/, '$1: ').replace(/\/tmp\/veza-validate-\w+\.cfg/g, INCUS_EDGE_PATHS.config).trim());
        throw new VezaError(`haproxy -c in ${name} rejected the config: ${lines.join(' | ') || `exit ${res.exitCode}`}`,
          'fix the edge definition, environment or renderer named above; nothing on the edge was changed', 'EDGE_CONFIG_INVALID');
      }
      return { substitutions: [] };
    },
    status,
    startCommand,
    async start() {
      if ((await status()).running) return;
      await ensure();
      if ((await edgeHost.readConfig()) === undefined) throw new VezaError(`no config at ${edgeHost.configPath}`, 'run nx run infra-edge:bootstrap, which renders it first', 'EDGE_RUNTIME');
      await client.run(startCommand());
      await mw.waitServing();
    },
    async stop() {
      if (!(await status()).running) return;
      await client.exec(name, ['systemctl', 'stop', 'haproxy.service'], { timeoutMs: 120_000, description: `stop HAProxy in ${name}` });
    },
    reload: mw.reload,
    runtime: mw.runtime,
    runtimePayload: mw.runtimePayload,
    probe: (h, port, path, timeoutMs) => probeFrom(client, name, h, port, path, timeoutMs),
  };
  return edgeHost;
}

/**
 * GET from inside the edge container, the way HAProxy's own check resolves
 * and reaches a slot (its DNS name on the Incus network); 2xx/3xx is healthy.
 */
async function probeFrom(client: IncusClient, container: string, host: string, port: number, path: string, timeoutMs: number): Promise<ProbeResult> {
  if (!(PATTERNS.host.test(host) || /^\d{1,3}(\.\d{1,3}){3}$/.test(host)) || !Number.isInteger(port) || port < 1 || port > 65535 || !/^\/[^\s]*$/.test(path)) {
    return { ok: false, error: `invalid probe target ${host}:${port}${path}` };
  }
  const seconds = Math.max(1, Math.ceil(timeoutMs / 1000));
  const res = await client.exec(container, ['curl', '-sS', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', String(seconds), '--noproxy', '*', `http://${host}:${port}${path}`], {
    check: false, timeoutMs: timeoutMs + 15_000, description: `probe ${host}:${port}${path} from ${container}`,
  }).catch((e: unknown) => ({ exitCode: -1, stdout: '', stderr: (e as Error).message }));
  const status = Number(res.stdout.trim());
  // curl exits 0 with no status only when `incus exec` lost its output (seen under load): say that, not "curl exit 0".
  if (res.exitCode === 0 && !(status > 0)) return { ok: false, error: `no HTTP status in curl's output (${JSON.stringify(res.stdout.trim().slice(0, 40))}): incus exec returned nothing` };
  if (res.exitCode !== 0 || !(status > 0)) return { ok: false, error: res.stderr.trim().split('\n').pop() || `curl exit ${res.exitCode}` };
  return { ok: status >= 200 && status < 400, status };
}

/**
 * Where the edge's container lives. An edge environments name lives with
 * them — in their project, on their network, from their image — so they must
 * agree, and so must whatever the edge file's own `incus:` sets; a pool the
 * environments leave to detection is the edge's. An edge no environment names
 * (the lab) lives where its own `incus:` says, each unset field at the
 * environments' default. Refused here, before the host is opened and anything
 * changes.
 */
export function edgeSettings(workspace: Workspace, def: EdgeDefinition): IncusSettings {
  const own = def.incus ?? {};
  const served = workspace.envsOn(def.name);
  if (served.length === 0) {
    const d = INCUS_DEFAULTS;
    return { project: own.project ?? d.project, network: own.network ?? d.network, image: own.image ?? d.image, dnsSuffix: d.dnsSuffix, ...(own.storagePool ? { storagePool: own.storagePool } : {}), origin: { network: edgeOrigin(def, 'network'), storagePool: edgeOrigin(def, 'storagePool') } };
  }
  const all = served.map((e) => ({ env: e.name, s: incusSettings(e) }));
  const first = all[0]!;
  for (const key of ['project', 'network', 'image'] as const) {
    const other = all.find((x) => x.s[key] !== first.s[key]);
    if (other) {
      throw new VezaError(`environments on edge ${def.name} disagree on their Incus ${key}: ${first.env} has ${first.s[key]}, ${other.env} has ${other.s[key]}`,
        `the edge container is shared: give every environment on ${def.name} the same ${envField(key)}`, 'BAD_CONFIG');
    }
  }
  for (const key of PLACEMENT) {
    const want = own[key];
    const other = want === undefined ? undefined : all.find((x) => x.s[key] !== undefined && x.s[key] !== want);
    if (other) {
      throw new VezaError(`${EDGES_DIR}/${def.name}.yaml places its container in Incus ${key} ${want}, but ${ENVIRONMENTS_DIR}/${other.env}.yaml, which it serves, has ${envField(key)} ${other.s[key]}`,
        `the edge lives with the environments it serves: set incus.${key}: ${other.s[key]} in ${EDGES_DIR}/${def.name}.yaml, or remove it there; nothing was changed`, 'BAD_CONFIG');
    }
  }
  const pool = first.s.storagePool ?? own.storagePool;
  // The network is the environments'; a pool they leave to detection and the edge file sets is the edge file's.
  const poolOrigin = first.s.storagePool === undefined && own.storagePool !== undefined ? { origin: { storagePool: edgeOrigin(def, 'storagePool') } } : {};
  return { ...first.s, ...(pool ? { storagePool: pool } : {}), ...poolOrigin };
}

/** How messages name a placement field set in the edge file. */
function edgeOrigin(def: EdgeDefinition, key: 'network' | 'storagePool'): string {
  return `incus.${key} in ${EDGES_DIR}/${def.name}.yaml`;
}

const PLACEMENT = ['project', 'network', 'image', 'storagePool'] as const;

/** How an environment file spells a placement field. */
function envField(key: (typeof PLACEMENT)[number]): string {
  return key === 'network' ? 'network' : `incus.${key}`;
}

export interface ProxyDevice {
  name: string;
  listen: string;
  connect: string;
  /** `instance`: listens inside the container and connects from the host (Incus' default is the reverse). */
  bind?: 'instance';
}

/**
 * One proxy device per address and port the edge listens on; the container
 * side is always its loopback — the same loopback address, for an edge that
 * lists some (HAProxy binds that one), 127.0.0.1 for one that listens on all. An ACME responder on a loopback address gets
 * the reverse: the container's HAProxy routes challenges to acme.server on
 * its own loopback, and Incus carries them to the same address on the host,
 * where infra-edge:certificates serves them — so an edge file names one
 * address for both sides, as the local edge's does. (A responder on another
 * address is reached over the network, with no device.)
 */
export function proxyDevices(def: EdgeDefinition): ProxyDevice[] {
  const out: ProxyDevice[] = [];
  const add = (kind: 'http' | 'https', port: number, addresses: string[]) => {
    const list = addresses.length ? addresses : ['0.0.0.0'];
    list.forEach((a, i) => {
      if (addresses.length && !a.startsWith('127.')) {
        throw new VezaError(`edge ${def.name}: ${kind} address ${a} cannot be bound inside its container`,
          `list no ${kind}.addresses (the host forwards 0.0.0.0:${port}), or loopback ones (127.x, e.g. a test edge)`, 'BAD_CONFIG');
      }
      // HAProxy binds inside what the file lists (render.ts): a listed loopback address is also the one to connect to.
      out.push({ name: i === 0 ? kind : `${kind}-${i + 1}`, listen: `tcp:${a}:${port}`, connect: `tcp:${addresses.length ? a : '127.0.0.1'}:${port}` });
    });
  };
  add('http', def.http.port, def.http.addresses);
  if (def.https) add('https', def.https.port, def.https.addresses);
  if (def.acme?.server.startsWith('127.')) out.push({ name: 'acme', listen: `tcp:${def.acme.server}`, connect: `tcp:${def.acme.server}`, bind: 'instance' });
  return out;
}

/** Adds missing proxy devices and corrects changed ones; a device already right is left alone. */
export function deviceCommands(scope: cli.IncusScope, container: string, inst: Instance, devices: ProxyDevice[]): Command[] {
  const out: Command[] = [];
  for (const d of devices) {
    const have = inst.devices[d.name];
    const settings = [`listen=${d.listen}`, `connect=${d.connect}`, ...(d.bind ? [`bind=${d.bind}`] : [])];
    if (!have) out.push(cli.deviceAdd(scope, container, d.name, 'proxy', settings));
    else if (have.type !== 'proxy') throw new VezaError(`${container} has a device ${d.name} of type ${have.type}`, `remove it (incus config device remove ${container} ${d.name}) so the edge can add its proxy device`, 'BAD_STATE');
    else if (have.listen !== d.listen || have.connect !== d.connect || (have.bind ?? 'host') !== (d.bind ?? 'host')) out.push(cli.deviceSet(scope, container, d.name, settings));
  }
  return out;
}
