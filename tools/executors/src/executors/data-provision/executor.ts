import type { ExecutorContext } from '@nx/devkit';
import { loadEnvironment } from '@veza/engine/config/environment';
import { validate } from '@veza/engine/config/names';
import { formatPlan } from '@veza/engine/data/plan';
import { createDataTier } from '@veza/engine/data/tier';
import { runExecutor } from '../../report';

export interface DataProvisionOptions {
  env?: string;
  sha?: string;
  dryRun?: boolean;
  json?: boolean;
}

export default async function dataProvisionExecutor(options: DataProvisionOptions, context: ExecutorContext) {
  return runExecutor(context, async (log) => {
    const env = await loadEnvironment(context.root, validate.env(options.env ?? 'local'));
    const release = options.sha === undefined ? undefined : validate.version(options.sha, env.driver === 'local');
    const tier = createDataTier(env, { workspaceRoot: context.root, log });
    const plan = await tier.provision({ release, dryRun: options.dryRun });
    if (options.dryRun) for (const line of formatPlan(plan)) log.info(`[dry-run] ${line}`);
  }, { json: options.json });
}
