import { isVezaError, VezaError } from '../log/errors';
import type { EdgeHost } from './edge-host';
import type { EdgeModel } from './model';
import { parseServersState, runtimeErrors, type ServerRuntimeState } from './runtime-api';

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
 * No pool passes through `drain` on the way: with nothing cut at `maint`,
 * `drain` would only make a plain pool's switch wait for sessions that end
 * by themselves, and in a sticky pool it still takes the clients its cookie
 * pins — they would keep reaching the old colour, opening new WebSockets
 * there. So a runtime switch is one batch of commands and never waits.
 *
 * `reload`: the master re-reads the file and hands the listening sockets to a
 * new worker; the old worker finishes what it has.
 */
export type AdminState = 'ready' | 'drain' | 'maint';

export interface ServerTarget {
  backend: string;
  server: string;
  state: AdminState;
}

/** The admin state the model gives every server of one tenant's pools. */
export function tenantTargets(model: EdgeModel, tenant: string): ServerTarget[] {
  const t = model.tenants.find((x) => x.name === tenant);
  if (!t) throw new VezaError(`edge ${model.name} does not serve ${tenant}`, `served: ${model.tenants.map((x) => x.name).join(', ')}`, 'INVALID_INPUT');
  return t.pools.flatMap((p) => p.servers.map((s) => ({ backend: p.name, server: s.name, state: s.disabled ? 'maint' as const : 'ready' as const })));
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

/** The Runtime API commands a runtime apply sends, in order: the servers coming into service before those leaving it. */
export function runtimeCommands(current: Map<string, ServerRuntimeState>, targets: ServerTarget[]): string[] {
  const changed = targets.filter((t) => adminStateOf(requireServer(current, t)) !== t.state);
  return [...changed.filter((t) => t.state === 'ready'), ...changed.filter((t) => t.state !== 'ready')]
    .map((t) => `set server ${t.backend}/${t.server} state ${t.state}`);
}

/** `current`: the servers' states if the caller just read them. */
export async function applyRuntime(host: EdgeHost, targets: ServerTarget[], current?: Map<string, ServerRuntimeState>): Promise<void> {
  const commands = runtimeCommands(current ?? (await readServerStates(host)), targets);
  if (commands.length) {
    try {
      check(await host.runtime(commands));
    } catch (e) {
      // `set server … state` is idempotent: after an answer lost on the way back, what is still to do is sent again.
      if (!(isVezaError(e) && e.code === 'EDGE_ANSWER_LOST')) throw e;
      const left = runtimeCommands(await readServerStates(host), targets);
      if (left.length) check(await host.runtime(left));
    }
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
