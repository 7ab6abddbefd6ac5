import type { ExecutorContext } from '@nx/devkit';
import { deploy } from '@veza/engine/deploy/deploy';
import { runExecutor } from '../../report';

export interface DeployExecutorOptions {
  env?: string;
  sha?: string;
  dryRun?: boolean;
  json?: boolean;
  bake?: number;
}

export default async function deployExecutor(options: DeployExecutorOptions, context: ExecutorContext): Promise<{ success: boolean }> {
  return runExecutor(context, async (log) => {
    await deploy({ workspaceRoot: context.root, env: options.env, sha: options.sha, dryRun: options.dryRun, json: options.json, bake: options.bake, log });
  }, { json: options.json });
}
