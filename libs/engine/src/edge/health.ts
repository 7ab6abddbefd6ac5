import type { RuntimeDeclaration } from '../config/component';
import type { Environment } from '../config/environment';
import type { Color } from '../config/names';
import { slotEndpoint } from '../hosts/naming';
import { askUntilAnswered } from '../util/ask-again';
import type { EdgeHost, ProbeResult } from './edge-host';

/**
 * Probes one colour of an environment from the edge's point of view: every
 * routed component's health path on its slot address, the request HAProxy's
 * own check sends. A switch refuses a colour that fails (unless forced); a
 * probe that got no HTTP answer is asked again first (util/ask-again.ts).
 */
export interface SlotProbe {
  component: string;
  url: string;
  result: ProbeResult;
}

export async function probeColor(host: EdgeHost, env: Environment, components: readonly RuntimeDeclaration[], color: Color, timeoutMs = 3_000): Promise<SlotProbe[]> {
  return Promise.all(components.filter((c) => c.edge !== null).map(async (c) => {
    const { host: h, port } = slotEndpoint(env, c, color);
    const result = await askUntilAnswered(() => host.probe(h, port, c.run.health, timeoutMs), (r) => r.status !== undefined);
    return { component: c.name, url: `http://${h}:${port}${c.run.health}`, result };
  }));
}

export function describeProbe(p: SlotProbe): string {
  return `${p.component} ${p.url}: ${p.result.ok ? 'ok' : p.result.status ? `HTTP ${p.result.status}` : p.result.error ?? 'no answer'}`;
}
