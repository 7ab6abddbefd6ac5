import type { ExecutorContext } from '@nx/devkit';
import { loadWorkspace } from '@veza/engine/config/workspace';
import { unlock } from '@veza/engine/deploy/unlock';
import { runExecutor } from '../../report';

export interface UnlockExecutorOptions {
  env?: string;
  json?: boolean;
}

export default async function unlockExecutor(options: UnlockExecutorOptions, context: ExecutorContext): Promise<{ success: boolean }> {
  return runExecutor(context, async (log) => {
    await unlock({ workspace: await loadWorkspace(context.root), env: options.env, json: options.json, log });
  }, { json: options.json });
}
