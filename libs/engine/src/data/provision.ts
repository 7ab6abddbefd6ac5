import { validate } from '../config/names';
import type { Workspace } from '../config/workspace';
import type { Logger } from '../log/logger';
import { formatPlan, type DataPlan } from './plan';
import { createDataTier } from './tier';

/**
 * `infra-data:provision`: the data services of one environment exist,
 * configured and running; with `sha`, its `pre-deploy-<sha>` snapshot is
 * taken too (never pruned here: only a deploy that succeeded prunes). Every
 * input is checked before the data tier is inspected.
 */
export interface ProvisionDataOptions {
  workspace: Workspace;
  /** Default: local. */
  env?: string;
  sha?: string;
  dryRun?: boolean;
  log: Logger;
}

export async function provisionData(o: ProvisionDataOptions): Promise<DataPlan> {
  const env = o.workspace.env(o.env);
  const release = o.sha === undefined ? undefined : validate.version(o.sha, env.driver === 'local');
  const plan = await createDataTier(env, { workspaceRoot: o.workspace.root, log: o.log }).provision({ release, dryRun: o.dryRun });
  if (o.dryRun) for (const line of formatPlan(plan)) o.log.info(`[dry-run] ${line}`);
  return plan;
}
