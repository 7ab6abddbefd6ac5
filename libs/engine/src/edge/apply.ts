import { setTimeout as sleep } from 'node:timers/promises';
import { VezaError } from '../log/errors';
import type { EdgeHost } from './edge-host';
import type { EdgeModel } from './model';
import { parseCurrentSessions, parseServersState, runtimeErrors, type ServerRuntimeState } from './runtime-api';

/**
 * Bringing a running HAProxy to a rendered config without dropping requests.
 *
 * `runtime`: the config file is already in place; the servers whose
 * `disabled` flag changed are moved through the Runtime API — the newly
 * serving ones to `ready` first, then the retiring ones to `maint`, where
 * they take no new connection. A blue-green pool has no `on-marked-down
 * shutdown-sessions` (render.ts), so `maint` cuts nothing: requests in flight
 * finish, and an open WebSocket stays on the old colour until it closes or
 * its slot stops (the deploy's tunnel drain, deploy/tunnel-drain.ts).
 *
 * A pool without a sticky cookie or WebSockets passes through `drain` first
 * and waits (up to the edge's drainMs) for its sessions to end, as it always
 * has. A sticky or WebSocket pool goes straight to `maint`: `drain` still
 * takes the clients its cookie pins, so they would keep reaching the old
 * colour — opening new WebSockets there — and a WebSocket open on it would
 * hold the switch for the whole drainMs.
 *
 * `reload`: the master re-reads the file and hands the listening sockets to a
 * new worker; the old worker finishes what it has.
 */
export type AdminState = 'ready' | 'drain' | 'maint';

export interface ServerTarget {
  backend: string;
  server: string;
  state: AdminState;
  /** Retired straight to `maint`, never through `drain` (a sticky or WebSocket pool). */
  direct?: boolean;
}

/** The admin state the model gives every server of one tenant's pools. */
export function tenantTargets(model: EdgeModel, tenant: string): ServerTarget[] {
  const t = model.tenants.find((x) => x.name === tenant);
  if (!t) throw new VezaError(`edge ${model.name} does not serve ${tenant}`, `served: ${model.tenants.map((x) => x.name).join(', ')}`, 'INVALID_INPUT');
  return t.pools.flatMap((p) => p.servers.map((s) => ({ backend: p.name, server: s.name, state: s.disabled ? 'maint' as const : 'ready' as const, direct: p.websocket || p.cookie !== undefined })));
}

export async function readServerStates(host: EdgeHost): Promise<Map<string, ServerRuntimeState>> {
  const states = parseServersState(await host.runtime(['show servers state']));
  return new Map(states.map((s) => [`${s.backend}/${s.server}`, s]));
}

function adminStateOf(s: ServerRuntimeState): AdminState {
  return s.maint ? 'maint' : s.drain ? 'drain' : 'ready';
}

/** The targets' state on the running edge (`current`): what a failed switch restores. */
export function snapshotTargets(current: Map<string, ServerRuntimeState>, targets: ServerTarget[]): ServerTarget[] {
  return targets.map((t) => ({ ...t, state: adminStateOf(requireServer(current, t)) }));
}

/** The Runtime API commands a runtime apply sends, in order, for a plan. */
export function runtimeCommands(current: Map<string, ServerRuntimeState>, targets: ServerTarget[]): { first: string[]; afterDrain: string[] } {
  const first: string[] = [];
  const retire: string[] = [];
  const afterDrain: string[] = [];
  for (const t of targets) {
    const now = adminStateOf(requireServer(current, t));
    if (now === t.state) continue;
    const id = `${t.backend}/${t.server}`;
    if (t.state === 'ready') {
      first.push(`set server ${id} state ready`);
    } else if (t.state === 'drain') {
      retire.push(`set server ${id} state drain`);
    } else if (t.direct) {
      retire.push(`set server ${id} state maint`);
    } else {
      if (now === 'ready') retire.push(`set server ${id} state drain`);
      afterDrain.push(`set server ${id} state maint`);
    }
  }
  return { first: [...first, ...retire], afterDrain };
}

/** `current`: the servers' states if the caller just read them. */
export async function applyRuntime(host: EdgeHost, targets: ServerTarget[], drainMs: number, current?: Map<string, ServerRuntimeState>): Promise<void> {
  const { first, afterDrain } = runtimeCommands(current ?? (await readServerStates(host)), targets);
  if (first.length) check(await host.runtime(first));
  const retiring = afterDrain.map((c) => c.split(' ')[2]!);
  if (afterDrain.length) {
    const deadline = Date.now() + drainMs;
    while (Date.now() < deadline) {
      const sessions = parseCurrentSessions(await host.runtime(['show stat']));
      if (retiring.every((id) => (sessions.get(id) ?? 0) === 0)) break;
      await sleep(10);
    }
    check(await host.runtime(afterDrain));
  }
  await verifyTargets(host, targets);
}

export async function verifyTargets(host: EdgeHost, targets: ServerTarget[]): Promise<void> {
  const now = await readServerStates(host);
  const wrong = targets.filter((t) => adminStateOf(requireServer(now, t)) !== t.state)
    .map((t) => `${t.backend}/${t.server} is ${adminStateOf(now.get(`${t.backend}/${t.server}`)!)}, expected ${t.state}`);
  if (wrong.length) throw new VezaError(`the running edge does not match its config: ${wrong.join('; ')}`, 'look at the edge with "show servers state" on its runtime socket', 'EDGE_VERIFY_FAILED');
}

/**
 * Whether two configs differ only in which servers start in maintenance —
 * the one difference the Runtime API can apply; anything else needs a reload.
 */
export function onlyServerStatesDiffer(a: string, b: string): boolean {
  return configShape(a) === configShape(b);
}

/** A config without what encodes the active colours: equal shapes differ only in server states. */
export function configShape(cfg: string): string {
  return cfg.split('\n')
    .filter((l) => !/^# environments:/.test(l) && !/^\s+# .*, active colour /.test(l))
    .map((l) => (/^\s+server /.test(l) ? l.replace(/ disabled$/, '') : l))
    .join('\n');
}

function requireServer(states: Map<string, ServerRuntimeState>, t: { backend: string; server: string }): ServerRuntimeState {
  const s = states.get(`${t.backend}/${t.server}`);
  if (!s) throw new VezaError(`the running edge has no server ${t.backend}/${t.server}`, 'its process runs an older config; run nx run infra-edge:bootstrap to reload it', 'EDGE_VERIFY_FAILED');
  return s;
}

function check(output: string): void {
  const errors = runtimeErrors(output);
  if (errors.length) throw new VezaError(`HAProxy refused a runtime command: ${errors.join(' | ')}`, 'look at the edge with "show servers state" on its runtime socket', 'EDGE_RUNTIME');
}
