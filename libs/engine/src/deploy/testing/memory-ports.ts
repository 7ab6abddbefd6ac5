import type { ServerTraffic } from '../../edge/runtime-api';
import { loadWorkspace } from '../../config/workspace';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { artifactFileName, MANIFEST_FILE, type PackageManifest } from '../../artifact/manifest';
import { packDirectory } from '../../artifact/pack';
import type { Color } from '../../config/names';
import type { DataPlan } from '../../data/plan';
import type { DataTier } from '../../data/port';
import type { HostDriver, SlotInfo, SlotSpec, SlotState } from '../../hosts/port';
import { VezaError, describeError, isVezaError } from '../../log/errors';
import { createMemoryLogger, type Logger } from '../../log/logger';
import type { ProcessRunner } from '../../ports/process';
import { checkKey, type StateStore } from '../../ports/state-store';
import { coordsLabel } from '../../registry/coords';
import type { Registry } from '../../registry/port';
import { readActiveColor, readHistory, writeActiveColor } from '../../state/history';
import { envLock, lockKey } from '../../state/lock';
import { readAudit } from '../audit';
import type { CommonOptions, Ports } from '../context';
import { deploy, type DeployResult } from '../deploy';
import type { DeployEdge } from '../edge-port';
import { readMetricsState, type DeployMetricsState } from '../metrics';
import type { ProgressEvent } from '../progress';
import type { Checks } from '../probe';

/**
 * Every port of the deploy engine in memory, over one shared world: slots
 * are map entries, the edge is the colour it serves, the registry a map of
 * bytes, state a map of strings. Nothing starts a process or opens a
 * socket, so the tests drive every branch of deploy, rollback and cleanup
 * without a machine set up for them. The workspace files the engine still reads (environment,
 * edge, component.json, packaged artifacts) live in a temp folder.
 */
export const ENV = 'mem';

/** Set members make the matching operation fail, as the real port would. */
export interface Faults {
  /** Slot names whose process exits at once. */
  start: Set<string>;
  /** Slot names that never answer their health path. */
  health: Set<string>;
  /** Slot names the edge cannot reach. */
  edgeProbe: Set<string>;
  /** Colours a switch to fails (the edge keeps what it served). */
  switchTo: Set<Color>;
  /** Components whose public status reports another release. */
  verify: Set<string>;
  /** Slot names whose commands fail (migrations). */
  exec: Set<string>;
}

export interface MemoryWorld {
  root: string;
  ports: Ports;
  runner: ProcessRunner;
  state: Map<string, string>;
  slots: Map<string, { spec: SlotSpec; state: SlotState }>;
  registry: Map<string, Buffer>;
  /** `answers`: what each read of the edge's counters adds to the colour it serves, per component (the bake gate reads them). */
  edge: { up: boolean; serves?: Color; switches: { color: Color; force: boolean }[]; answers: Record<string, ServerTraffic>; counted: Record<string, ServerTraffic> };
  /** `unwritable`: what the tier answers when asked why the database takes no writes (a lost primary); `provisionFails`: the error provision throws. */
  data: { snapshots: string[]; pruneKeeps: string[][]; unwritable?: string; provisionFails?: string };
  faults: Faults;
  /** Every side effect on a slot, the edge or the data tier, in order: `create <slot>`, `switch green`, … */
  calls: string[];
  /** Packages every component at `sha` into dist/artifacts, as the package target would. */
  stage(sha: string): Promise<void>;
  /** Stages `sha` and deploys it. */
  deployed(sha: string): Promise<DeployResult>;
  /** What deploy() and friends need: the workspace, the ports, and progress lines kept in `lines`. */
  options(sha?: string): CommonOptions & { lines: string[]; log: Logger; processEnv: NodeJS.ProcessEnv };
}

export const slot = (component: 'api' | 'web', role: Color | 'tools') => `veza-${ENV}-${component}-${role}`;

const COMPONENTS = {
  api: {
    name: 'api', build: { preset: 'node' },
    run: { command: ['node', 'server.js'], port: 18301, health: '/api/health', status: '/api/status', env: { required: ['DATABASE_URL'], optional: [] } },
    edge: { backend: 'api_pool', prefixes: ['/api'] },
    migrations: { command: ['node', 'migrate.js', '--up'] },
  },
  web: {
    name: 'web', build: { preset: 'node' },
    run: { command: ['node', 'server.js'], port: 18302, health: '/healthz', status: '/status.json' },
    edge: { backend: 'web_pool', default: true },
  },
};

export async function memoryWorld(t: { after(fn: () => Promise<void>): void }): Promise<MemoryWorld> {
  const root = await fs.mkdtemp(join(tmpdir(), 'veza-memory-'));
  t.after(() => fs.rm(root, { recursive: true, force: true }));
  await write(root, `infra/environments/${ENV}.yaml`, [
    `name: ${ENV}`, 'driver: local', `prefix: veza-${ENV}-`, `publicHosts: [${ENV}.localhost]`, `publicUrl: http://${ENV}.localhost:18499`,
    `edge: ${ENV}-edge`, 'registry: { url: "file:.veza/registry", owner: veza }', 'local: { subnet: 127.79.99 }', '',
  ].join('\n'));
  await write(root, `infra/edges/${ENV}-edge.yaml`, [
    `name: ${ENV}-edge`, 'host: local', 'http: { port: 18499, addresses: [127.79.99.1] }', 'runtime: { socketDir: "${VEZA_EDGE_DIR}" }', 'apply: runtime', '',
  ].join('\n'));
  for (const [name, decl] of Object.entries(COMPONENTS)) await write(root, `apps/${name}/component.json`, JSON.stringify(decl));

  const w = {
    root, state: new Map(), slots: new Map(), registry: new Map(), calls: [],
    edge: { up: false, switches: [], answers: {}, counted: {} }, data: { snapshots: [], pruneKeeps: [] },
    faults: { start: new Set(), health: new Set(), edgeProbe: new Set(), switchTo: new Set(), verify: new Set(), exec: new Set() },
  } as unknown as MemoryWorld;
  const store = memoryStore(w.state);
  const driver = memoryDriver(w);
  const edge = memoryEdge(w, store);
  const registry = memoryRegistry(w.registry);
  w.ports = { driver, registry: () => registry, tier: memoryTier(w), edge, store, checks: memoryChecks(w) };
  w.runner = {
    dryRun: false,
    run: async (cmd) => {
      throw new Error(`this test starts no process, and the engine ran ${cmd.argv.join(' ')}`);
    },
  };
  w.stage = (sha) => stage(root, sha);
  w.deployed = async (sha) => {
    await w.stage(sha);
    return deploy({ ...w.options(sha), sha });
  };
  // Loaded once the files are written, as an executor loads it at its start.
  const workspace = await loadWorkspace(root);
  w.options = (sha) => {
    const lines: string[] = [];
    return { workspace, env: ENV, ports: w.ports, runner: w.runner, processEnv: sha ? { VEZA_RELEASE_SHA: sha } : {}, write: (l) => lines.push(l), log: createMemoryLogger(), lines };
  };
  return w;
}

async function write(root: string, rel: string, text: string): Promise<void> {
  await fs.mkdir(dirname(join(root, rel)), { recursive: true });
  await fs.writeFile(join(root, rel), text);
}

async function stage(root: string, sha: string): Promise<void> {
  for (const component of Object.keys(COMPONENTS)) {
    const src = join(root, 'dist', 'src', component, sha);
    // The sha in the content gives every release its own bytes, as a real build stamped with it has.
    await write(src, 'server.js', `// ${component} ${sha}\n`);
    const dir = join(root, 'dist', 'artifacts', component);
    await fs.rm(dir, { recursive: true, force: true });
    const file = artifactFileName(component, sha);
    const packed = await packDirectory(src, join(dir, file));
    const manifest: PackageManifest = { component, package: component, version: sha, file, sha256: packed.sha256, size: packed.size, fileCount: packed.fileCount };
    await write(dir, MANIFEST_FILE, JSON.stringify(manifest));
  }
}

function memoryStore(data: Map<string, string>): StateStore {
  return {
    location: '/state',
    read: async (key) => data.get(checkKey(key)),
    write: async (key, text) => void data.set(checkKey(key), text),
    append: async (key, line) => void data.set(checkKey(key), (data.get(key) ?? '') + (line.endsWith('\n') ? line : line + '\n')),
    async createExclusive(key, text) {
      if (data.has(checkKey(key))) return false;
      data.set(key, text);
      return true;
    },
    remove: async (key) => void data.delete(checkKey(key)),
  };
}

function memoryDriver(w: MemoryWorld): HostDriver {
  const info = ({ spec, state }: { spec: SlotSpec; state: SlotState }): SlotInfo =>
    ({ name: spec.name, component: spec.component, role: spec.role, state, release: spec.release, host: spec.bind.host, port: spec.bind.port });
  return {
    kind: 'local',
    async create(spec) {
      w.calls.push(`create ${spec.name}`);
      w.slots.set(spec.name, { spec, state: 'stopped' });
    },
    async start(name) {
      w.calls.push(`start ${name}`);
      if (w.faults.start.has(name)) throw new VezaError(`${name} exited at once (exit 1)`, 'read the slot log', 'SLOT_FAILED');
      w.slots.get(name)!.state = 'running';
    },
    async stop(name) {
      w.calls.push(`stop ${name}`);
      const s = w.slots.get(name);
      if (s) s.state = 'stopped';
    },
    async delete(name) {
      w.calls.push(`delete ${name}`);
      w.slots.delete(name);
    },
    list: async (env) => [...w.slots.values()].filter((s) => s.spec.env === env).map(info),
    async exec(name, cmd) {
      w.calls.push(`exec ${name}: ${cmd.argv.join(' ')}`);
      if (w.faults.exec.has(name)) throw new VezaError(`command failed (exit 1): ${cmd.argv.join(' ')}: migration 0002 failed`, 'fix the migration', 'COMMAND_FAILED');
      return { exitCode: 0, stdout: 'applied 0002\n', stderr: '' };
    },
    async probe(name, port, path) {
      return { target: `http://127.0.0.1:${port}${path} inside ${name}`, ...(healthy(w, name) ? { status: 200 } : { error: 'connection refused' }) };
    },
    logsCommand: (name) => ['cat', `/logs/${name}`],
  };
}

function healthy(w: MemoryWorld, name: string): boolean {
  return w.slots.get(name)?.state === 'running' && !w.faults.health.has(name);
}

function memoryEdge(w: MemoryWorld, store: StateStore): DeployEdge {
  return {
    name: `${ENV}-edge`,
    stateStore: () => store,
    isUp: async () => w.edge.up,
    async ensureUp() {
      w.calls.push('edge up');
      w.edge.up = true;
      w.edge.serves = await readActiveColor(store, ENV);
    },
    async probeFromEdge(t) {
      return { status: 200, body: t.path };
    },
    async switchTo(color, opts) {
      w.calls.push(`switch ${color}${opts.force ? ' (forced)' : ''}`);
      w.edge.switches.push({ color, force: Boolean(opts.force) });
      if (w.faults.switchTo.has(color)) throw new VezaError(`switching ${ENV} to ${color} failed: haproxy refused the server state; the edge was restored to ${w.edge.serves}`, 'fix the cause and switch again', 'SWITCH_FAILED');
      w.edge.serves = color;
      // As the real switch does: the colour is persisted once the edge serves it.
      await writeActiveColor(store, ENV, color);
    },
    async traffic(color) {
      if (color !== w.edge.serves) return {};
      for (const [name, add] of Object.entries(w.edge.answers)) {
        const had = w.edge.counted[name] ?? { responses: 0, errors: 0 };
        w.edge.counted[name] = { responses: had.responses + add.responses, errors: had.errors + add.errors };
      }
      return structuredClone(w.edge.counted);
    },
    openSessions: async () => 0,
    // As the real edge's `show stat` would put it: the pool, the colour's server, whether its slot answers.
    async serverView(color, c, preview) {
      const name = slot(c.name as 'api' | 'web', color);
      return w.edge.up && w.slots.has(name) ? `${ENV}_${c.name}${preview ? '_preview' : ''}: ${color} ${healthy(w, name) ? 'UP' : 'DOWN'}` : undefined;
    },
    async renderPlanned(color) {
      return { path: '/edge/haproxy.cfg', current: w.edge.up ? `serve ${w.edge.serves}\n` : undefined, next: `serve ${color}\n` };
    },
    publicTarget: () => ({ host: '127.79.99.1', port: 18499, hostHeader: `${ENV}.localhost:18499`, basePath: '/' }),
    async stop() {
      const was = w.edge.up;
      w.edge.up = false;
      return was;
    },
  };
}

function memoryChecks(w: MemoryWorld): Checks {
  return {
    async waitHealthy(t) {
      if (!healthy(w, t.slot)) throw new VezaError(`slot ${t.slot} did not answer 2xx on ${t.path}`, 'read the slot log (command below); the edge was not switched', 'HEALTH_FAILED');
    },
    async fromEdge(t) {
      if (w.faults.edgeProbe.has(t.slot) || !healthy(w, t.slot)) {
        throw new VezaError(`edge ${ENV}-edge cannot reach slot ${t.slot} at ${t.host}:${t.port}`, 'check the address the edge uses', 'HEALTH_FAILED');
      }
    },
    async publicRelease(component, path, release) {
      const served = w.edge.serves && w.slots.get(slot(component as 'api' | 'web', w.edge.serves));
      const seen = w.faults.verify.has(component) ? '0'.repeat(40) : served?.spec.release;
      if (seen !== release) throw new VezaError(`${component} through ${path} does not report release ${release}: it reports ${seen ?? '(nothing)'}`, 'read its logs', 'VERIFY_FAILED');
    },
    isHealthy: async (t) => healthy(w, t.slot),
  };
}

function memoryRegistry(files: Map<string, Buffer>): Registry {
  const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
  return {
    kind: 'file',
    allowsLocalVersions: true,
    describe: () => 'the memory registry',
    remoteSha256: async (c) => {
      const b = files.get(coordsLabel(c));
      return b && sha256(b);
    },
    async upload(c, path) {
      const bytes = await fs.readFile(path);
      const held = files.get(coordsLabel(c));
      if (held) {
        if (sha256(held) === sha256(bytes)) return 'exists';
        throw new VezaError(`artifact ${coordsLabel(c)} is already published with different content`, 'bump the version', 'ARTIFACT_IMMUTABLE');
      }
      files.set(coordsLabel(c), bytes);
      return 'created';
    },
    async download(c, dest, expected) {
      const b = files.get(coordsLabel(c));
      if (!b) throw new VezaError(`${coordsLabel(c)} is not in the memory registry`, 'publish it first', 'ARTIFACT_NOT_FOUND');
      if (sha256(b) !== expected) throw new VezaError(`${coordsLabel(c)} has sha256 ${sha256(b)}, not ${expected}`, 're-publish it', 'ARTIFACT_MISMATCH');
      await fs.mkdir(dirname(dest), { recursive: true });
      await fs.writeFile(dest, b);
    },
  };
}

function memoryTier(w: MemoryWorld): DataTier {
  const plan = (steps: DataPlan['steps'], summary: string): DataPlan => ({ steps, notes: [], summary });
  return {
    kind: 'local',
    preflight: async () => undefined,
    async provision(o = {}) {
      // The one step a dry-run shows, with the secret SQL a real provision feeds postgres on stdin.
      const steps: DataPlan['steps'] = [{ kind: 'run', title: 'ensure role veza', command: { argv: ['psql', '--dbname', 'veza'], input: "ALTER ROLE veza PASSWORD 's3cret'" } }];
      if (o.dryRun) return plan(steps, 'postgres would be ensured');
      w.calls.push('provision');
      if (w.data.provisionFails) throw new VezaError(w.data.provisionFails, 'read the data tier log', 'COMMAND_FAILED');
      if (o.release && !w.data.snapshots.includes(o.release)) w.data.snapshots.push(o.release);
      return plan(steps, 'postgres ready');
    },
    async snapshot(release) {
      if (!w.data.snapshots.includes(release)) w.data.snapshots.push(release);
      return plan([], `snapshot pre-deploy-${release}`);
    },
    async pruneSnapshots(keep, o = {}) {
      if (!o.dryRun) w.data.pruneKeeps.push([...keep]);
      return plan([], 'nothing to prune');
    },
    listSnapshots: async () => [],
    unwritable: async () => w.data.unwritable,
    async stop() {
      w.calls.push('data stop');
      return true;
    },
    databaseUrl: async () => 'postgres://veza:s3cret@127.79.99.2:5432/veza',
  };
}

/** What an action leaves in the state store, in a form tests compare whole. */
export async function stateOf(w: MemoryWorld): Promise<{ active: Color; history: string[]; audit: string[]; locked: boolean; metrics?: DeployMetricsState }> {
  const store = w.ports.store;
  return {
    active: await readActiveColor(store, ENV),
    history: (await readHistory(store, ENV)).map((e) => `${e.sha.slice(0, 2)} ${e.color} ${e.outcome}`),
    audit: (await readAudit(store, { env: ENV })).map((e) => `${e.action} ${e.outcome}`),
    locked: w.state.has(lockKey(envLock(ENV))),
    metrics: await readMetricsState(store, ENV),
  };
}

/** The plan events a `--dry-run --json` run printed, as `<phase> <kind>` lines (`-` outside a phase). */
export function plannedKinds(lines: string[]): string[] {
  return lines.map((l) => JSON.parse(l) as ProgressEvent).flatMap((e) => (e.event === 'plan' ? [`${e.id ?? '-'} ${e.step.kind}`] : []));
}

/** Asserts `p` fails with a VezaError of `code` and returns it, for the message and hint. */
export async function refused(p: Promise<unknown>, code: string): Promise<VezaError> {
  const e = await p.then(() => undefined, (r: unknown) => r);
  assert.ok(isVezaError(e), `expected a VezaError ${code}, got ${e === undefined ? 'success' : describeError(e)}`);
  assert.equal(e.code, code, e.message);
  return e;
}
