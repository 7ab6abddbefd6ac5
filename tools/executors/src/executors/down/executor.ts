import type { ExecutorContext } from '@nx/devkit';
import { loadWorkspace } from '@veza/engine/config/workspace';
import { down } from '@veza/engine/deploy/down';
import { runExecutor } from '../../report';

export interface DownExecutorOptions {
  env?: string;
  dryRun?: boolean;
  json?: boolean;
}

export default async function downExecutor(options: DownExecutorOptions, context: ExecutorContext): Promise<{ success: boolean }> {
  return runExecutor(context, async (log) => {
    await down({ workspace: await loadWorkspace(context.root), env: options.env, dryRun: options.dryRun, json: options.json, log });
  }, { json: options.json });
}
