import type { Environment } from '../config/environment';
import type { Workspace } from '../config/workspace';
import { localAddress } from '../hosts/naming';
import { bootstrapEdge } from '../edge/bootstrap';
import type { EdgeHost } from '../edge/edge-host';
import { liveDrainedPools, openSessionsIn, readLiveState, renderLive } from '../edge/live';
import { colorServerNames, loadEdgeInputs, poolName, previewPoolName } from '../edge/model';
import { openEdgeHost } from '../edge/open-host';
import { describeServerCheck, parseServerChecks, parseServerTraffic, type ServerTraffic } from '../edge/runtime-api';
import { switchColor } from '../edge/switch';
import type { Logger } from '../log/logger';
import type { ProcessRunner } from '../ports/process';
import type { DeployEdge } from './edge-port';

/**
 * The deploy engine's view of an environment's edge, over libs/engine/src/edge:
 * bootstrap (start or reconcile), the hitless switch, the edge host's probe
 * and its state store. The switch persists the colour it applied (history.ts
 * writeActiveColor), which deploy relies on when it switches back.
 */
export interface EdgeAdapterOptions {
  workspace: Workspace;
  env: Environment;
  log: Logger;
  runner?: ProcessRunner;
}

const EDGE_PROBE_TIMEOUT_MS = 2_000;

export function createDeployEdge(o: EdgeAdapterOptions): DeployEdge {
  const def = o.workspace.edge(o.env.edge);
  const host: EdgeHost = openEdgeHost(o.workspace, def, { runner: o.runner });
  const url = new URL(o.env.publicUrl);
  const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  const edgeLog = o.log.child({ phase: 'edge' });
  // The pools a drain counts: read once, not on every poll (on Incus each state read is an exec), and again
  // after this adapter's own switch — the one change to the environment's pools while a deploy holds its lock.
  let drained: Promise<string[]> | undefined;

  return {
    name: def.name,
    stateStore: () => host.state,
    isUp: async () => (await host.status()).running,
    async ensureUp() {
      await bootstrapEdge({ workspace: o.workspace, edge: def.name, log: edgeLog, host });
    },
    async probeFromEdge(t) {
      const r = await host.probe(t.host, t.port, t.path, EDGE_PROBE_TIMEOUT_MS);
      if (r.status === undefined) throw new Error(r.error ?? 'no answer');
      return { status: r.status, body: '' };
    },
    async switchTo(color, opts) {
      drained = undefined;
      await switchColor({ workspace: o.workspace, env: o.env.name, color, sha: opts.sha, force: opts.force, renewed: opts.renewed, log: edgeLog, host });
    },
    // Polled every second of a bake: one `show stat`, the pools named from the declarations the bake holds, no state read.
    async traffic(color, components) {
      const counters = parseServerTraffic(await host.runtime(['show stat']));
      const out: Record<string, ServerTraffic> = {};
      for (const c of components) {
        if (!c.edge) continue;
        const sum = { responses: 0, errors: 0 };
        for (const server of colorServerNames(color)) {
          const n = counters.get(`${poolName(o.env.name, c.edge.backend)}/${server}`);
          sum.responses += n?.responses ?? 0;
          sum.errors += n?.errors ?? 0;
        }
        out[c.name] = sum;
      }
      return out;
    },
    async serverView(color, c, preview) {
      if (!c.edge) return undefined;
      const pool = preview ? previewPoolName(poolName(o.env.name, c.edge.backend)) : poolName(o.env.name, c.edge.backend);
      const checks = parseServerChecks(await host.runtime(['show stat']));
      const seen = colorServerNames(color).flatMap((s) => {
        const v = checks.get(`${pool}/${s}`);
        return v ? [describeServerCheck(s, v)] : [];
      });
      return seen.length ? `${pool}: ${seen.join(', ')}` : undefined;
    },
    async openSessions(color) {
      if (!(await host.status()).running) return 0;
      drained ??= liveDrainedPools(host, loadEdgeInputs(o.workspace, def.name), o.env.name).catch((e: unknown) => {
        drained = undefined;
        throw e;
      });
      return openSessionsIn(host, await drained, color);
    },
    async renderPlanned(color) {
      const inputs = loadEdgeInputs(o.workspace, def.name);
      const { text } = renderLive(inputs, await readLiveState(host, inputs), { env: o.env.name, color });
      return { path: host.configPath, current: await host.readConfig(), next: text };
    },
    publicTarget() {
      // The local edge also listens on each environment's own edge address, which needs no name resolution.
      const connect = o.env.driver === 'local' ? localAddress(o.env, 'edge') : url.hostname;
      return { host: connect, port, hostHeader: url.host, basePath: url.pathname };
    },
    async stop() {
      const running = (await host.status()).running;
      await host.stop();
      return running;
    },
  };
}
