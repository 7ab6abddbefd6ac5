import type { Workspace } from '../config/workspace';
import { VezaError } from '../log/errors';
import type { Logger } from '../log/logger';
import { formatHaStatus, isHaOperations } from './ha/operations';
import type { BackupType } from './ha/pgbackrest';
import { createDataTier } from './tier';

/**
 * `infra-data:status|failover|backup|drill`: operations of the HA topology.
 * Every input is checked (environment, topology, backup type) before the
 * data tier is touched.
 */
export type DataAction = 'status' | 'failover' | 'backup' | 'drill';

export interface OperateDataOptions {
  workspace: Workspace;
  env?: string;
  action: DataAction;
  type?: BackupType;
  keep?: boolean;
  log: Logger;
}

export async function operateData(o: OperateDataOptions): Promise<void> {
  const env = o.workspace.env(o.env);
  if (env.data.postgres.topology !== 'ha') {
    throw new VezaError(`environment ${env.name} uses the single topology: ${o.action} needs the HA formation`, `set data.postgres.topology: ha in infra/environments/${env.name}.yaml (README, "PostgreSQL HA")`, 'BAD_CONFIG');
  }
  if (o.action === 'backup' && o.type !== 'full' && o.type !== 'diff') {
    throw new VezaError(`--type must be full or diff, not ${JSON.stringify(o.type)}`, 'run infra-data:backup --type=full (weekly) or --type=diff (daily)', 'INVALID_INPUT');
  }
  const tier = createDataTier(env, { workspaceRoot: o.workspace.root, log: o.log });
  if (!isHaOperations(tier)) throw new VezaError(`the ${env.driver} data tier of ${env.name} has no HA operations yet`, 'use the local driver for the HA topology for now', 'NOT_IMPLEMENTED');
  switch (o.action) {
    case 'status':
      for (const line of formatHaStatus(env.name, await tier.status())) o.log.info(line);
      return;
    case 'failover':
      await tier.switchover();
      return;
    case 'backup':
      await tier.backup(o.type!);
      return;
    case 'drill':
      await tier.drill({ keep: o.keep });
      return;
  }
}
