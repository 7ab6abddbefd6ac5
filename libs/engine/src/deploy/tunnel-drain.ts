import { setTimeout as sleep } from 'node:timers/promises';
import type { Color } from '../config/names';
import type { Context } from './context';
import type { DeployEdge } from './edge-port';
import type { PhaseContext } from './progress';

/**
 * A switch leaves the WebSockets open on the old colour where they are: the
 * edge takes no new session there, and the open ones keep their tunnel until
 * the client closes it (README, WebSockets across a switch). What ends them is
 * stopping the old colour's slots — phase C of the next deploy re-creates
 * them, cleanup deletes them. Before that, wait up to the edge file's
 * `tunnelDrainMs` for the edge to hold no session to that colour; whatever is
 * still open then is closed by the slot's own shutdown (veza-api says 1001
 * "going away"), and its client reconnects to the live colour.
 */
const POLL_MS = 250;

export interface DrainFigures {
  /** Sessions the edge held to the colour when the drain began, and when it ended. */
  open: number;
  left: number;
  waitedMs: number;
}

/** What the drain reads of the deploy's context. */
export type DrainContext = Pick<Context, 'workspace' | 'env' | 'plan'> & { ports: { edge: Pick<DeployEdge, 'openSessions'> } };

export async function drainRetiredColor(ctx: DrainContext, color: Color, p: PhaseContext, now: () => number = Date.now): Promise<DrainFigures> {
  const bound = ctx.workspace.edge(ctx.env.edge).tunnelDrainMs;
  const started = now();
  const open = await ctx.ports.edge.openSessions(color);
  if (open === 0) return { open, left: 0, waitedMs: 0 };
  if (ctx.plan) {
    p.step(`${open} session(s) open on ${color}: the slots would stop once they close, after ${seconds(bound)} s at most`);
    return { open, left: open, waitedMs: 0 };
  }
  p.step(`${open} session(s) open on ${color} (WebSockets the switch left there): waiting up to ${seconds(bound)} s for them to close`);
  let left = open;
  while (left > 0 && now() - started < bound) {
    await sleep(Math.min(POLL_MS, Math.max(0, bound - (now() - started))));
    left = await ctx.ports.edge.openSessions(color);
  }
  const waitedMs = now() - started;
  p.step(left === 0
    ? `every session on ${color} closed after ${seconds(waitedMs)} s`
    : `${left} session(s) still open on ${color} after ${seconds(waitedMs)} s: stopping its slots closes them, and their clients reconnect to the live colour`);
  return { open, left, waitedMs };
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(1);
}
