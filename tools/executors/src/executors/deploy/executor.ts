import type { ExecutorContext } from '@nx/devkit';
import { loadWorkspace } from '@veza/engine/config/workspace';
import { deploy } from '@veza/engine/deploy/deploy';
import { runExecutor } from '../../report';

export interface DeployExecutorOptions {
  env?: string;
  sha?: string;
  dryRun?: boolean;
  json?: boolean;
}

export default async function deployExecutor(options: DeployExecutorOptions, context: ExecutorContext): Promise<{ success: boolean }> {
  return runExecutor(context, async (log) => {
    await deploy({ workspace: await loadWorkspace(context.root), env: options.env, sha: options.sha, dryRun: options.dryRun, json: options.json, log });
  }, { json: options.json });
}
