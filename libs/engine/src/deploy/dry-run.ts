import type { DataTier } from '../data/port';
import { formatPlan } from '../data/plan';
import type { HostDriver, SlotSpec } from '../hosts/port';
import { isVezaError } from '../log/errors';
import { formatArgv } from '../ports/process';
import type { StateStore } from '../ports/state-store';
import type { Registry } from '../registry/port';
import { coordsLabel } from '../registry/coords';
import { unifiedDiff } from '../edge/diff';
import { readActiveColor } from '../state/history';
import type { DeployEdge } from './edge-port';
import type { Checks } from './probe';

/**
 * Dry-run: the same deploy code runs against these wrappers of its ports.
 * Reads go to the real thing (so the plan starts from the truth); every
 * change is written into the plan instead — each command as argv, each file
 * with its diff against the live one — and nothing outside this process
 * changes. State writes land in an in-memory overlay, so later steps of the
 * plan read what earlier ones would have written.
 */
export interface Plan {
  add(line: string): void;
}

export function planningDriver(real: HostDriver, plan: Plan): HostDriver {
  const created = new Map<string, SlotSpec>();
  return {
    kind: real.kind,
    async create(spec) {
      created.set(spec.name, spec);
      const shown = Object.keys(spec.vars).sort().map((k) => (/^VEZA_(RELEASE_SHA|COLOR|ENV)$/.test(k) ? `${k}=${spec.vars[k]}` : `${k}=(set, not shown)`));
      plan.add(`create slot ${spec.name} (${spec.component}, ${spec.role}, release ${spec.release}): install ${spec.artifactPath} (sha256 ${spec.artifactSha256}), bind ${spec.bind.host}:${spec.bind.port}, env file 0600: ${[`HOST=${spec.bind.host}`, `PORT=${spec.bind.port}`, ...shown].join(' ')}`);
    },
    async start(name) {
      const spec = created.get(name);
      plan.add(spec ? `start slot ${name}: $ ${formatArgv(spec.command)}` : `start slot ${name}`);
    },
    async stop(name) {
      plan.add(`stop slot ${name}`);
    },
    async delete(name) {
      plan.add(`delete slot ${name} (stop its processes, remove its directory)`);
    },
    list: (env) => real.list(env),
    async exec(name, cmd) {
      plan.add(`in slot ${name}: $ ${formatArgv(cmd.argv)}${cmd.description ? `   # ${cmd.description}` : ''}`);
      return { exitCode: 0, stdout: '', stderr: '' };
    },
    probe: (name, port, path, timeoutMs) => real.probe(name, port, path, timeoutMs),
    logsCommand(name) {
      try {
        return real.logsCommand(name);
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
      plan.add(diff ? `write ${real.location}/${key}:\n${diff.trimEnd()}` : `write ${real.location}/${key} (unchanged)`);
    },
    async append(key, line) {
      overlay.set(key, ((await read(key)) ?? '') + (line.endsWith('\n') ? line : line + '\n'));
      plan.add(`append to ${real.location}/${key}: ${line.trimEnd()}`);
    },
    async createExclusive(key, data) {
      if ((await read(key)) !== undefined) return false;
      overlay.set(key, data);
      plan.add(`create ${real.location}/${key}`);
      return true;
    },
    async remove(key) {
      overlay.set(key, undefined);
      plan.add(`remove ${real.location}/${key}`);
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
      const published = await real.remoteSha256(c);
      if (published === sha256) {
        plan.add(`${coordsLabel(c)} is already published in ${real.describe()} with identical bytes`);
        return 'exists';
      }
      plan.add(`upload ${coordsLabel(c)} (sha256 ${sha256}) to ${real.describe()}`);
      return 'created';
    },
  };
}

export function planningTier(real: DataTier, plan: Plan): DataTier {
  const show = (lines: string[]) => lines.forEach((l) => plan.add(l));
  return {
    kind: real.kind,
    preflight: () => real.preflight(),
    async provision(opts = {}) {
      const p = await real.provision({ ...opts, dryRun: true });
      show(formatPlan(p));
      return p;
    },
    async snapshot(release) {
      const p = await real.snapshot(release, { dryRun: true });
      show(formatPlan(p));
      return p;
    },
    async pruneSnapshots(keep) {
      const p = await real.pruneSnapshots(keep, { dryRun: true });
      show(formatPlan(p));
      return p;
    },
    listSnapshots: () => real.listSnapshots(),
    async stop() {
      plan.add('stop the data services if they run (their data stays)');
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
    plan.add(diff ? `write ${f.path}:\n${diff.trimEnd()}` : `${f.path} is unchanged`);
  };
  return {
    name: real.name,
    stateStore: () => store,
    isUp: () => real.isUp(),
    async ensureUp() {
      plan.add((await real.isUp()) ? `edge ${real.name} runs; make it serve the recorded colours` : `start edge ${real.name}`);
      await showFile(await readActiveColor(store, env));
    },
    async probeFromEdge(t) {
      plan.add(`probe http://${t.host}:${t.port}${t.path} from edge ${real.name}`);
      return { status: 200, body: '' };
    },
    async switchTo(color, opts) {
      plan.add(`switch edge ${real.name} to ${color} (release ${opts.sha}): validate with haproxy -c, back up, rename into place, apply without dropping a request`);
      await showFile(color);
    },
    renderPlanned: (color) => real.renderPlanned(color),
    traffic: (color) => real.traffic(color),
    publicTarget: () => real.publicTarget(),
    async stop() {
      const up = await real.isUp();
      plan.add(up ? `stop edge ${real.name}` : `edge ${real.name} does not run: nothing to stop`);
      return up;
    },
  };
}

export function planningChecks(real: Checks, plan: Plan, driver: HostDriver['kind']): Checks {
  return {
    async waitHealthy(t, wait) {
      const from = driver === 'incus' ? 'inside its container (incus exec)' : `at ${t.host}`;
      plan.add(`wait up to ${wait.timeoutMs} ms for ${t.slot} to answer 2xx on port ${t.port} ${t.path}, probed ${from}`);
    },
    async fromEdge(t) {
      plan.add(`probe ${t.slot} at http://${t.host}:${t.port}${t.path} from the edge`);
    },
    async publicRelease(component, path, release, retry) {
      plan.add(`verify ${component}: ${path} through the public URL reports release ${release} (up to ${retry.retries} tries, ${retry.intervalMs} ms apart)`);
    },
    isHealthy: (t) => real.isHealthy(t),
  };
}
