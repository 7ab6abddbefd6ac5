import { setTimeout as sleep } from 'node:timers/promises';
import type { RuntimeDeclaration } from '../config/component';
import type { Environment } from '../config/environment';
import type { Color } from '../config/names';
import type { ServerTraffic } from '../edge/runtime-api';
import { VezaError } from '../log/errors';
import type { DeployEdge } from './edge-port';

/**
 * The post-switch gate: a release that passed its health checks and its
 * verification can still fail real users. For the bake window, the edge's
 * own counters for the new colour are read every `intervalMs`; once at least
 * `minRequests` answers came back and more than `maxErrorRatio` of them
 * failed (5xx, broken responses, refused connections), the gate fails at
 * once — the caller switches back as on a failed verification. Too little
 * traffic to judge passes, and says so.
 */
export type BakeSettings = Environment['bake'];

export interface BakeFigures {
  seconds: number;
  responses: number;
  errors: number;
  /** Per component with traffic: its failed answers of all answers. */
  components: Record<string, ServerTraffic>;
}

export async function bakeColor(edge: DeployEdge, color: Color, components: RuntimeDeclaration[], s: BakeSettings, now: () => number = Date.now): Promise<BakeFigures> {
  const routed = components.filter((c) => c.edge !== null).map((c) => c.name);
  const start = await edge.traffic(color, components);
  const began = now();
  const deadline = began + s.seconds * 1_000;
  let figures = measure(start, start, routed, 0);
  while (now() < deadline) {
    await sleep(Math.min(s.intervalMs, Math.max(0, deadline - now())));
    figures = measure(start, await edge.traffic(color, components), routed, (now() - began) / 1_000);
    if (figures.responses >= s.minRequests && figures.errors / figures.responses > s.maxErrorRatio) {
      throw new VezaError(
        `the ${color} colour failed ${describeBake(figures)}, above the gate's ${percent(s.maxErrorRatio)}`,
        'read the slots\' logs; the release stays on its colour for forensics (fix it and deploy again, or lower bake.maxErrorRatio if the errors are expected)',
        'BAKE_FAILED',
      );
    }
  }
  return figures;
}

/** "12 of 60 answers (20.0 %) in 4.0 s — veza-api 12/30" */
export function describeBake(f: BakeFigures): string {
  const per = Object.entries(f.components).filter(([, t]) => t.responses > 0).map(([name, t]) => `${name} ${t.errors}/${t.responses}`);
  const ratio = f.responses ? f.errors / f.responses : 0;
  return `${f.errors} of ${f.responses} answers (${percent(ratio)}) in ${f.seconds.toFixed(1)} s${per.length ? ` — ${per.join(', ')}` : ''}`;
}

function measure(start: Record<string, ServerTraffic>, now: Record<string, ServerTraffic>, routed: string[], seconds: number): BakeFigures {
  const components: Record<string, ServerTraffic> = {};
  let responses = 0;
  let errors = 0;
  for (const name of routed) {
    // A reload starts the counters again from zero: a drop means a new worker, counted from nothing.
    const a = start[name] ?? { responses: 0, errors: 0 };
    const b = now[name] ?? { responses: 0, errors: 0 };
    const t = b.responses < a.responses ? b : { responses: b.responses - a.responses, errors: b.errors - a.errors };
    components[name] = t;
    responses += t.responses;
    errors += t.errors;
  }
  return { seconds, responses, errors, components };
}

function percent(r: number): string {
  return `${(r * 100).toFixed(1)} %`;
}
