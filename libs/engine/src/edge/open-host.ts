import type { ProcessRunner } from '../ports/process';
import type { EdgeDefinition } from '../config/edge';
import type { Workspace } from '../config/workspace';
import type { EdgeHost } from './edge-host';
import { createIncusEdgeHost, edgeSettings } from './incus-edge-host';
import { createLocalEdgeHost } from './local-edge-host';

export interface OpenEdgeHostOptions {
  runner?: ProcessRunner;
  stopTimeoutMs?: number;
}

/** The EdgeHost implementation an edge file asks for. */
export function openEdgeHost(workspace: Workspace, def: EdgeDefinition, opts: OpenEdgeHostOptions = {}): EdgeHost {
  if (def.host === 'local') return createLocalEdgeHost({ workspaceRoot: workspace.root, edge: def.name, ...opts });
  return createIncusEdgeHost({ settings: edgeSettings(workspace, def), def, runner: opts.runner });
}

