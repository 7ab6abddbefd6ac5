import type { ExecutorContext } from '@nx/devkit';
import { loadWorkspace } from '@veza/engine/config/workspace';
import { formatStatus, status } from '@veza/engine/deploy/status';
import { runExecutor } from '../../report';

export interface StatusExecutorOptions {
  env?: string;
  json?: boolean;
}

export default async function statusExecutor(options: StatusExecutorOptions, context: ExecutorContext): Promise<{ success: boolean }> {
  return runExecutor(context, async (log) => {
    const report = await status({ workspace: await loadWorkspace(context.root), env: options.env, json: options.json, log });
    process.stdout.write(options.json ? JSON.stringify(report, null, 2) + '\n' : formatStatus(report).join('\n') + '\n');
  }, { json: options.json });
}
