import type { ExecutorContext } from '@nx/devkit';
import { loadWorkspace } from '@veza/engine/config/workspace';
import { parseColors, renderEdgeFiles } from '@veza/engine/edge/targets';
import { runExecutor } from '../../report';

export interface EdgeRenderOptions {
  /** Forwarded through the graph; every edge is rendered regardless. */
  env?: string;
  colors?: string;
}

export default async function edgeRenderExecutor(options: EdgeRenderOptions, context: ExecutorContext) {
  return runExecutor(context, async (log) => {
    await renderEdgeFiles({ workspace: await loadWorkspace(context.root), colors: parseColors(options.colors), log });
  });
}
