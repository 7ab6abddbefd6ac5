import type { Color } from '../config/names';
import { readActiveColor } from '../state/history';
import type { EdgeHost } from './edge-host';
import { buildEdgeModel, type EdgeInputs, type EdgeModel } from './model';
import { renderHaproxyConfig, type EdgeRenderer } from './render';

/** Every served environment's active colour, as the edge's state store records it (absent: blue). */
export async function activeColors(host: EdgeHost, inputs: EdgeInputs): Promise<Record<string, Color>> {
  const colors: Record<string, Color> = {};
  for (const e of inputs.envs) colors[e.name] = await readActiveColor(host.state, e.name);
  return colors;
}

/** The config the edge should run right now: the declarations plus the recorded colours. */
export function renderLive(inputs: EdgeInputs, colors: Record<string, Color>, renderer: EdgeRenderer = renderHaproxyConfig): { model: EdgeModel; text: string } {
  const model = buildEdgeModel(inputs, colors);
  return { model, text: renderer(model) };
}
