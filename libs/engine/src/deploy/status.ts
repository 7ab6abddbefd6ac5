import { otherColor, type Color } from '../config/names';
import { slotName } from '../hosts/naming';
import type { SlotState } from '../hosts/port';
import { openContext, type CommonOptions, type Context } from './context';
import { currentRelease, heldBy, readHistory, type HistoryEntry } from '../state/history';
import { envLock, readLock, type LockHolder } from '../state/lock';
import { heldDeclarations } from './phases';
import { healthTarget } from './slots';

/**
 * `infra-deploy:status [--json]`: what serves an environment right now,
 * read without changing anything — the active colour and its release, every
 * slot of both colours with a live health probe, the edge, the history and
 * the lock holder.
 */
export interface SlotStatus {
  component: string;
  slot: string;
  state: SlotState;
  release: string | null;
  /** absent/stopped slots are not probed; running and unknown (unread state) ones are. */
  health: 'ok' | 'failing' | 'absent' | 'stopped';
  pid: number | null;
}

export interface ColorStatus {
  color: Color;
  /** The release history says this colour holds, and how that deploy ended. */
  release: string | null;
  outcome: HistoryEntry['outcome'] | null;
  components: SlotStatus[];
}

export interface StatusReport {
  env: string;
  driver: string;
  publicUrl: string;
  activeColor: Color;
  /** The verified release the active colour serves; null before the first successful deploy. */
  release: string | null;
  edge: { name: string; running: boolean };
  /** The active colour's slots. */
  components: SlotStatus[];
  inactive: ColorStatus;
  history: HistoryEntry[];
  lock: LockHolder | null;
}

export async function status(o: CommonOptions): Promise<StatusReport> {
  const ctx = await openContext(o, (env) => `status ${env.name}`);
  const { store, edge } = ctx.ports;
  const env = ctx.env.name;
  const current = await currentRelease(store, env);
  const history = await readHistory(store, env);
  const inactive = otherColor(current.color);
  const [active, other, running, lock] = await Promise.all([
    colorSlots(ctx, current.color, heldBy(history, current.color)),
    colorSlots(ctx, inactive, heldBy(history, inactive)),
    edge.isUp(),
    readLock(store, envLock(env)),
  ]);
  const held = heldBy(history, inactive);
  return {
    env,
    driver: ctx.env.driver,
    publicUrl: ctx.env.publicUrl,
    activeColor: current.color,
    release: current.entry?.sha ?? null,
    edge: { name: edge.name, running },
    components: active,
    inactive: { color: inactive, release: held?.sha ?? null, outcome: held?.outcome ?? null, components: other },
    history,
    lock: lock ?? null,
  };
}

/** A colour's slots, probed on the health paths of the release it holds. */
async function colorSlots(ctx: Context, color: Color, held: HistoryEntry | undefined): Promise<SlotStatus[]> {
  const slots = await ctx.ports.driver.list(ctx.env.name);
  return Promise.all((held ? heldDeclarations(ctx, held) : ctx.components).map(async (c): Promise<SlotStatus> => {
    const name = slotName(ctx.env, c.name, color);
    const s = slots.find((x) => x.name === name);
    if (!s) return { component: c.name, slot: name, state: 'absent', release: null, health: 'absent', pid: null };
    // A slot whose state could not be read is probed all the same: its answer is a fact, the failed read is not.
    const health = s.state === 'stopped' ? 'stopped' : (await ctx.ports.checks.isHealthy(healthTarget(ctx.env, c, color))) ? 'ok' : 'failing';
    return { component: c.name, slot: name, state: s.state, release: s.release ?? null, health, pid: s.pid ?? null };
  }));
}

/** The human rendering of a report, one line each. */
export function formatStatus(r: StatusReport): string[] {
  const slotLine = (s: SlotStatus) => `  ${s.component.padEnd(14)} ${s.slot.padEnd(28)} ${s.state.padEnd(8)} ${s.health.padEnd(8)} ${s.release ?? '-'}`;
  return [
    `${r.env} (${r.driver}): ${r.activeColor} serves ${r.release ?? 'no verified release'} at ${r.publicUrl}`,
    `edge ${r.edge.name}: ${r.edge.running ? 'running' : 'not running'}`,
    `${r.activeColor} (active):`,
    ...r.components.map(slotLine),
    `${r.inactive.color} (inactive${r.inactive.release ? `, holds ${r.inactive.release} — ${r.inactive.outcome}` : ''}):`,
    ...r.inactive.components.map(slotLine),
    `lock: ${r.lock ? `${r.lock.action} by ${r.lock.user} on ${r.lock.host} (pid ${r.lock.pid}) since ${r.lock.startedAt}` : 'free'}`,
    'history (newest first):',
    ...formatHistory(r.history),
  ];
}

/** `veza history`: the deploy history alone, newest first — read from the state store, no probe. */
export async function history(o: CommonOptions): Promise<HistoryEntry[]> {
  const ctx = await openContext(o, (env) => `history ${env.name}`);
  return readHistory(ctx.ports.store, ctx.env.name);
}

export function formatHistory(entries: HistoryEntry[]): string[] {
  return entries.length ? entries.map((h) => `  ${h.time}  ${h.color.padEnd(5)}  ${h.outcome.padEnd(11)}  ${h.sha}  ${h.actor}`) : ['  (none)'];
}
