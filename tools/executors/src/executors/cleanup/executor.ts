import type { ExecutorContext } from '@nx/devkit';
import { loadWorkspace } from '@veza/engine/config/workspace';
import { cleanup } from '@veza/engine/deploy/cleanup';
import { runExecutor } from '../../report';

export interface CleanupExecutorOptions {
  env?: string;
  color?: string;
  dryRun?: boolean;
  json?: boolean;
}

export default async function cleanupExecutor(options: CleanupExecutorOptions, context: ExecutorContext): Promise<{ success: boolean }> {
  return runExecutor(context, async (log) => {
    await cleanup({ workspace: await loadWorkspace(context.root), env: options.env, color: options.color, dryRun: options.dryRun, json: options.json, log });
  }, { json: options.json });
}
