import type { ExecutorContext } from '@nx/devkit';
import { unlock } from '@veza/engine/deploy/unlock';
import { runExecutor } from '../../report';

export interface UnlockExecutorOptions {
  env?: string;
  json?: boolean;
}

export default async function unlockExecutor(options: UnlockExecutorOptions, context: ExecutorContext): Promise<{ success: boolean }> {
  return runExecutor(context, async (log) => {
    await unlock({ workspaceRoot: context.root, env: options.env, json: options.json, log });
  }, { json: options.json });
}
