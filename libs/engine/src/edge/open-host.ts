import { loadEnvironment, type Environment } from '../config/environment';
import { VezaError } from '../log/errors';
import type { ProcessRunner } from '../ports/process';
import { loadEdgeDefinition, type EdgeDefinition } from './definition';
import type { EdgeHost } from './edge-host';
import { createLocalEdgeHost } from './local-edge-host';

export interface OpenEdgeHostOptions {
  runner?: ProcessRunner;
  stopTimeoutMs?: number;
}

/** The EdgeHost implementation an edge file asks for. */
export function openEdgeHost(workspaceRoot: string, def: EdgeDefinition, opts: OpenEdgeHostOptions = {}): EdgeHost {
  if (def.host === 'local') return createLocalEdgeHost({ workspaceRoot, edge: def.name, ...opts });
  throw new VezaError(
    `edge ${def.name} runs on incus, which this build cannot drive yet`,
    'the Incus edge host arrives with the Incus driver; until then render and validate it (nx run infra-edge:validate)',
    'NOT_IMPLEMENTED',
  );
}

/** For deploy: the edge serving `envName`, and where that environment's state lives. */
export async function edgeHostForEnv(workspaceRoot: string, envName: string, opts: OpenEdgeHostOptions = {}): Promise<{ env: Environment; def: EdgeDefinition; host: EdgeHost }> {
  const env = await loadEnvironment(workspaceRoot, envName);
  const def = await loadEdgeDefinition(workspaceRoot, env.edge);
  return { env, def, host: openEdgeHost(workspaceRoot, def, opts) };
}
