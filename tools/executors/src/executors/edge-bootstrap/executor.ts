import type { ExecutorContext } from '@nx/devkit';
import { loadWorkspace } from '@veza/engine/config/workspace';
import { bootstrapEdge } from '@veza/engine/edge/bootstrap';
import { runExecutor } from '../../report';

export interface EdgeBootstrapOptions {
  env?: string;
  edge?: string;
  dryRun?: boolean;
}

export default async function edgeBootstrapExecutor(options: EdgeBootstrapOptions, context: ExecutorContext) {
  return runExecutor(context, async (log) => {
    await bootstrapEdge({ workspace: await loadWorkspace(context.root), env: options.env, edge: options.edge, dryRun: options.dryRun, log });
  });
}
