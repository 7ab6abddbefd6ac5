import type { ProcessRunner } from '../ports/process';
import type { EdgeDefinition } from './definition';
import type { EdgeHost } from './edge-host';
import { createIncusEdgeHost } from './incus-edge-host';
import { createLocalEdgeHost } from './local-edge-host';

export interface OpenEdgeHostOptions {
  runner?: ProcessRunner;
  stopTimeoutMs?: number;
}

/** The EdgeHost implementation an edge file asks for. */
export function openEdgeHost(workspaceRoot: string, def: EdgeDefinition, opts: OpenEdgeHostOptions = {}): EdgeHost {
  if (def.host === 'local') return createLocalEdgeHost({ workspaceRoot, edge: def.name, ...opts });
  return createIncusEdgeHost({ workspaceRoot, def, runner: opts.runner });
}

