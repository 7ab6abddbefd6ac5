import type { ExecutorContext } from '@nx/devkit';
import { loadWorkspace } from '@veza/engine/config/workspace';
import { rollback } from '@veza/engine/deploy/rollback';
import { runExecutor } from '../../report';

export interface RollbackExecutorOptions {
  env?: string;
  mode?: string;
  sha?: string;
  dryRun?: boolean;
  json?: boolean;
}

export default async function rollbackExecutor(options: RollbackExecutorOptions, context: ExecutorContext): Promise<{ success: boolean }> {
  return runExecutor(context, async (log) => {
    await rollback({ workspace: await loadWorkspace(context.root), env: options.env, mode: options.mode, sha: options.sha, dryRun: options.dryRun, json: options.json, log });
  }, { json: options.json });
}
