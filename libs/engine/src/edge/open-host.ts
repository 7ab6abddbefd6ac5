import { loadEnvironment, type Environment } from '../config/environment';
import type { ProcessRunner } from '../ports/process';
import { loadEdgeDefinition, type EdgeDefinition } from './definition';
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

/** For deploy: the edge serving `envName`, and where that environment's state lives. */
export async function edgeHostForEnv(workspaceRoot: string, envName: string, opts: OpenEdgeHostOptions = {}): Promise<{ env: Environment; def: EdgeDefinition; host: EdgeHost }> {
  const env = await loadEnvironment(workspaceRoot, envName);
  const def = await loadEdgeDefinition(workspaceRoot, env.edge);
  return { env, def, host: openEdgeHost(workspaceRoot, def, opts) };
}
