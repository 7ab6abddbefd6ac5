import type { Color } from '../config/names';
import { heldBy, readActiveColor, readHistory } from '../state/history';
import type { EdgeHost } from './edge-host';
import { buildEdgeModel, colorSessions, drainedPools, type EdgeInputs, type EdgeModel, type HeldDeclarations } from './model';
import { renderHaproxyConfig, type EdgeRenderer } from './render';
import { parseCurrentSessions } from './runtime-api';

/** What the edge's state store records for every environment it serves: the active colour (absent: blue) and what each colour holds. */
export interface LiveState {
  colors: Record<string, Color>;
  held: HeldDeclarations;
}

export async function readLiveState(host: EdgeHost, inputs: EdgeInputs): Promise<LiveState> {
  const colors: Record<string, Color> = {};
  const held: Record<string, Partial<Record<Color, LiveState['held'][string][Color]>>> = {};
  for (const e of inputs.envs) {
    colors[e.name] = await readActiveColor(host.state, e.name);
    const history = await readHistory(host.state, e.name);
    held[e.name] = {};
    for (const color of ['blue', 'green'] as const) {
      const declarations = heldBy(history, color)?.declarations;
      if (declarations) held[e.name]![color] = declarations;
    }
  }
  return { colors, held };
}

/** The config the edge should run with `env` on `color` (default: as recorded): the recorded releases' declarations and colours. */
export function renderLive(inputs: EdgeInputs, live: LiveState, change?: { env: string; color: Color }, renderer: EdgeRenderer = renderHaproxyConfig): { model: EdgeModel; text: string } {
  const colors = change ? { ...live.colors, [change.env]: change.color } : live.colors;
  const model = buildEdgeModel(inputs, colors, live.held);
  return { model, text: renderer(model) };
}

/** The pools of `env` a deploy drains (model.ts drainedPools), as the edge serves them now. */
export async function liveDrainedPools(host: EdgeHost, inputs: EdgeInputs, env: string): Promise<string[]> {
  return drainedPools(renderLive(inputs, await readLiveState(host, inputs)).model, env);
}

/** The sessions the running edge holds to `color` in `pools` (`show stat` scur). */
export async function openSessionsIn(host: EdgeHost, pools: readonly string[], color: Color): Promise<number> {
  return colorSessions(parseCurrentSessions(await host.runtime(['show stat'])), pools, color);
}
