import type { ExecutorContext } from '@nx/devkit';
import { provisionData } from '@veza/engine/data/provision';
import { runExecutor } from '../../report';

export interface DataProvisionOptions {
  env?: string;
  sha?: string;
  dryRun?: boolean;
  json?: boolean;
}

export default async function dataProvisionExecutor(options: DataProvisionOptions, context: ExecutorContext) {
  return runExecutor(context, async (log) => {
    await provisionData({ workspaceRoot: context.root, env: options.env, sha: options.sha, dryRun: options.dryRun, log });
  }, { json: options.json });
}
