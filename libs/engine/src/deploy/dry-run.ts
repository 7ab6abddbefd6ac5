import type { DataTier } from '../data/port';
import type { DataPlan } from '../data/plan';
import type { HostDriver, SlotSpec } from '../hosts/port';
import { isVezaError } from '../log/errors';
import type { StateStore } from '../ports/state-store';
import type { Registry } from '../registry/port';
import { coordsLabel } from '../registry/coords';
import { unifiedDiff } from '../edge/diff';
import { readActiveColor } from '../state/history';
import type { DeployEdge } from './edge-port';
import { shownDataPlan, type Plan } from './plan';
import type { Checks } from './probe';

/**
 * Dry-run: the same deploy code runs against these wrappers of its ports.
 * Reads go to the real thing (so the plan starts from the truth); every
 * change is written into the plan instead — each command as argv, each file
 * with its diff against the live one — and nothing outside this process
 * changes. State writes land in an in-memory overlay, so later steps of the
 * plan read what earlier ones would have written.
 */

export function planningDriver(real: HostDriver, plan: Plan): HostDriver {
  const created = new Map<string, SlotSpec>();
  return {
    kind: real.kind,
    async create(spec) {
      created.set(spec.name, spec);
      const shown = Object.keys(spec.vars).sort().map((k) => (/^VEZA_(RELEASE_SHA|COLOR|ENV)$/.test(k) ? `${k}=${spec.vars[k]}` : `${k}=(set, not shown)`));
      plan.add({
        kind: 'slot-create', slot: spec.name, component: spec.component, role: spec.role, release: spec.release,
        artifactPath: spec.artifactPath, artifactSha256: spec.artifactSha256, bind: spec.bind,
        env: [`HOST=${spec.bind.host}`, `PORT=${spec.bind.port}`, ...shown],
      });
    },
    async start(name) {
      const spec = created.get(name);
      plan.add({ kind: 'slot-start', slot: name, ...(spec ? { argv: spec.command } : {}) });
    },
    async stop(name) {
      plan.add({ kind: 'slot-stop', slot: name });
    },
    async delete(name) {
      plan.add({ kind: 'slot-delete', slot: name });
    },
    list: (env) => real.list(env),
    async exec(name, cmd) {
      plan.add({ kind: 'command', slot: name, argv: cmd.argv, ...(cmd.description ? { description: cmd.description } : {}) });
      return { exitCode: 0, stdout: '', stderr: '' };
    },
    probe: (name, port, path, timeoutMs) => real.probe(name, port, path, timeoutMs),
    logsCommand(name, opts) {
      try {
        return real.logsCommand(name, opts);
      } catch {
        return ['(logs of', name, 'once created)'];
      }
    },
  };
}

export function planningStore(real: StateStore, plan: Plan): StateStore {
  const overlay = new Map<string, string | undefined>();
  const read = async (key: string) => (overlay.has(key) ? overlay.get(key) : real.read(key));
  return {
    location: real.location,
    read,
    async write(key, data) {
      const current = await read(key);
      const diff = unifiedDiff(current ?? '', data, { before: current === undefined ? '/dev/null' : `${real.location}/${key}`, after: `${real.location}/${key} (planned)` });
      overlay.set(key, data);
      plan.add({ kind: 'write-file', path: `${real.location}/${key}`, diff });
    },
    async append(key, line) {
      overlay.set(key, ((await read(key)) ?? '') + (line.endsWith('\n') ? line : line + '\n'));
      plan.add({ kind: 'append-line', path: `${real.location}/${key}`, line: line.trimEnd() });
    },
    async createExclusive(key, data) {
      if ((await read(key)) !== undefined) return false;
      overlay.set(key, data);
      plan.add({ kind: 'create-file', path: `${real.location}/${key}` });
      return true;
    },
    async remove(key) {
      overlay.set(key, undefined);
      plan.add({ kind: 'remove-file', path: `${real.location}/${key}` });
    },
  };
}

export function planningRegistry(real: Registry, plan: Plan): Registry {
  return {
    kind: real.kind,
    allowsLocalVersions: real.allowsLocalVersions,
    describe: () => real.describe(),
    remoteSha256: (c) => real.remoteSha256(c),
    download: (c, dest, sha256) => real.download(c, dest, sha256),
    async upload(c, _path, sha256) {
      const published = (await real.remoteSha256(c)) === sha256;
      plan.add({ kind: 'publish', artifact: coordsLabel(c), sha256, registry: real.describe(), published });
      return published ? 'exists' : 'created';
    },
  };
}

export function planningTier(real: DataTier, plan: Plan): DataTier {
  const show = (p: DataPlan) => plan.add({ kind: 'data', plan: shownDataPlan(p) });
  return {
    kind: real.kind,
    preflight: () => real.preflight(),
    async provision(opts = {}) {
      const p = await real.provision({ ...opts, dryRun: true });
      show(p);
      return p;
    },
    async snapshot(release) {
      const p = await real.snapshot(release, { dryRun: true });
      show(p);
      return p;
    },
    async pruneSnapshots(keep) {
      const p = await real.pruneSnapshots(keep, { dryRun: true });
      show(p);
      return p;
    },
    listSnapshots: () => real.listSnapshots(),
    async stop() {
      plan.add({ kind: 'data-stop' });
      return false;
    },
    async databaseUrl() {
      try {
        return await real.databaseUrl();
      } catch (e) {
        // A first provision generates the password only when it really runs.
        if (isVezaError(e) && e.code === 'DATA_NOT_PROVISIONED') return 'postgres://(created by the provision above)';
        throw e;
      }
    },
  };
}

export function planningEdge(real: DeployEdge, plan: Plan, store: StateStore, env: string): DeployEdge {
  const showFile = async (color: Parameters<DeployEdge['renderPlanned']>[0]) => {
    const f = await real.renderPlanned(color);
    const diff = unifiedDiff(f.current ?? '', f.next, { before: f.current === undefined ? '/dev/null' : f.path, after: `${f.path} (planned)` });
    plan.add({ kind: 'write-file', path: f.path, diff });
  };
  return {
    name: real.name,
    stateStore: () => store,
    isUp: () => real.isUp(),
    async ensureUp() {
      plan.add({ kind: 'edge-up', edge: real.name, running: await real.isUp() });
      await showFile(await readActiveColor(store, env));
    },
    async probeFromEdge(t) {
      plan.add({ kind: 'probe-from-edge', url: `http://${t.host}:${t.port}${t.path}`, edge: real.name });
      return { status: 200, body: '' };
    },
    async switchTo(color, opts) {
      plan.add({ kind: 'switch', edge: real.name, color, release: opts.sha });
      await showFile(color);
    },
    renderPlanned: (color) => real.renderPlanned(color),
    traffic: (color, components) => real.traffic(color, components),
    openSessions: (color) => real.openSessions(color),
    serverView: (color, c, preview) => real.serverView(color, c, preview),
    publicTarget: () => real.publicTarget(),
    async stop() {
      const up = await real.isUp();
      plan.add({ kind: 'edge-stop', edge: real.name, running: up });
      return up;
    },
  };
}

export function planningChecks(real: Checks, plan: Plan, driver: HostDriver['kind'], edge: string): Checks {
  return {
    async waitHealthy(t, wait) {
      const probedFrom = driver === 'incus' ? 'inside its container (incus exec)' : `at ${t.host}`;
      plan.add({ kind: 'wait-healthy', slot: t.slot, port: t.port, path: t.path, timeoutMs: wait.timeoutMs, probedFrom });
    },
    async fromEdge(t) {
      plan.add({ kind: 'probe-from-edge', slot: t.slot, url: `http://${t.host}:${t.port}${t.path}`, edge });
    },
    async publicRelease(component, path, release, retry) {
      plan.add({ kind: 'verify', component, path, release, retries: retry.retries, intervalMs: retry.intervalMs });
    },
    isHealthy: (t) => real.isHealthy(t),
  };
}
