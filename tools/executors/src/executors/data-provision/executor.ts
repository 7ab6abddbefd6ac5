import type { ExecutorContext } from '@nx/devkit';
import { loadWorkspace } from '@veza/engine/config/workspace';
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
    await provisionData({ workspace: await loadWorkspace(context.root), env: options.env, sha: options.sha, dryRun: options.dryRun, log });
  }, { json: options.json });
}
