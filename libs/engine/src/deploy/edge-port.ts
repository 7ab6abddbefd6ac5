import type { RuntimeDeclaration } from '../config/component';
import type { Color } from '../config/names';
import type { StateStore } from '../ports/state-store';
import type { ServerTraffic } from '../edge/runtime-api';
import type { HttpResponse } from '../util/http';

/**
 * What the deploy engine needs from the edge of one environment, and nothing
 * more. edge-adapter.ts implements it over libs/engine/src/edge; dry-run.ts
 * wraps it so a plan touches nothing.
 *
 * The active colour is never kept here: state/history.ts owns it. The edge
 * renders from it (ensureUp) and serves what it is told (switchTo); deploy
 * records the colour once a release is verified, so a deploy killed between
 * switch and verification leaves the file on the old colour and the next
 * ensureUp() puts the edge back there.
 */
export interface DeployEdge {
  /** For messages: which edge this is. */
  readonly name: string;
  /** Where locks, history, audit and metrics live: the edge host, which every deployer of the environment reaches. */
  stateStore(): StateStore;
  /** Whether the edge runs now (read-only). */
  isUp(): Promise<boolean>;
  /** Starts the edge if it is down and makes it serve the colours history.ts records for every environment it fronts. */
  ensureUp(): Promise<void>;
  /** GET from the edge host's side of the network (seed phase D): catches a slot that is up but unreachable from the edge. */
  probeFromEdge(target: { host: string; port: number; path: string }): Promise<HttpResponse>;
  /**
   * Hitless switch of this environment to `color`; on any failure the edge serves what it served before and this throws.
   * `renewed`: the colour's slots were just (re-)created, so their names may now resolve to new addresses.
   */
  switchTo(color: Color, opts: { sha: string; force?: boolean; renewed?: boolean }): Promise<void>;
  /** Per routed component of `components`, what the edge's servers of `color` have answered so far in its pool (the edge's own counters). */
  traffic(color: Color, components: readonly RuntimeDeclaration[]): Promise<Record<string, ServerTraffic>>;
  /**
   * How the edge sees `color`'s servers of `component` in its pool (`preview`: its preview pool): state, last
   * check, address — what a failed verification quotes; undefined when the edge has no such servers.
   */
  serverView(color: Color, component: RuntimeDeclaration, preview: boolean): Promise<string | undefined>;
  /** The sessions (requests in flight, open WebSockets) the edge holds to `color`'s servers of this environment now; 0 when the edge is down. */
  openSessions(color: Color): Promise<number>;
  /** The config file a switch to `color` would write, beside the live one, for dry-run diffs. */
  renderPlanned(color: Color): Promise<PlannedFile>;
  /** Where a client reaches the public URL: the edge's listening address for this environment (local *.localhost names need not resolve). */
  publicTarget(): { host: string; port: number; hostHeader: string; basePath: string };
  /** Stops the edge; false when it did not run. Only `down` calls it, once no environment on the edge has running slots. */
  stop(): Promise<boolean>;
}

export interface PlannedFile {
  path: string;
  /** Undefined when the file does not exist yet. */
  current?: string;
  next: string;
}
