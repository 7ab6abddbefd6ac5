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
    await deploy({
      workspaceRoot: context.root, env: options.env, sha: options.sha, dryRun: options.dryRun, json: options.json, bake: options.bake,
      publishedOnly: !packagesInRun(context), log,
    });
  }, { json: options.json });
}

/** `--excludeTaskDependencies` leaves the package tasks out of the run: then dist/artifacts is not this commit's build. */
export function packagesInRun(context: Pick<ExecutorContext, 'taskGraph'>): boolean {
  return Object.values(context.taskGraph?.tasks ?? {}).some((t) => t.target.target === 'package');
}
