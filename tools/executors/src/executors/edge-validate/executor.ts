import type { ExecutorContext } from '@nx/devkit';
import { loadWorkspace } from '@veza/engine/config/workspace';
import { createProcessRunner } from '@veza/engine/ports/process';
import { validateEdgeFiles } from '@veza/engine/edge/targets';
import { runExecutor } from '../../report';

export interface EdgeValidateOptions {
  edge?: string;
  env?: string;
}

export default async function edgeValidateExecutor(options: EdgeValidateOptions, context: ExecutorContext) {
  return runExecutor(context, async (log) => {
    await validateEdgeFiles({ workspace: await loadWorkspace(context.root), edge: options.edge, env: options.env, runner: createProcessRunner(), log });
  });
}
