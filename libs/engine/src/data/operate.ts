import type { Workspace } from '../config/workspace';
import { VezaError } from '../log/errors';
import type { Logger } from '../log/logger';
import { formatHaStatus, isHaOperations, reportsHaStatus, type HaStatus } from './ha/operations';
import { formatServicesStatus, type ServicesStatus } from './status';
import type { BackupType } from './ha/pgbackrest';
import { createDataTier } from './tier';

/**
 * `infra-data:status|failover|backup|drill`: the data tier's status (every
 * topology) and the operations of the HA topology. Every input is checked
 * (environment, topology, backup type) before the data tier is touched.
 */
export type DataAction = 'status' | 'failover' | 'backup' | 'drill';

export interface OperateDataOptions {
  workspace: Workspace;
  env?: string;
  action: DataAction;
  type?: BackupType;
  keep?: boolean;
  /** status: the caller prints the returned report as JSON, so no text lines. */
  json?: boolean;
  log: Logger;
}

/** `infra-data:status --json`: the HA formation (when the topology is ha) and every other service, as asked of them. */
export interface DataStatusReport {
  env: string;
  postgres: { topology: 'single' } | ({ topology: 'ha' } & HaStatus);
  services: ServicesStatus;
}

/** Status works on every topology; the other actions need the HA formation. Returns the status report (status only). */
export async function operateData(o: OperateDataOptions): Promise<DataStatusReport | undefined> {
  const env = o.workspace.env(o.env);
  if (o.action === 'status') {
    const tier = createDataTier(env, { workspaceRoot: o.workspace.root, log: o.log });
    const ha = reportsHaStatus(tier) ? await tier.status() : undefined;
    const report: DataStatusReport = { env: env.name, postgres: ha ? { topology: 'ha', ...ha } : { topology: 'single' }, services: (await tier.servicesStatus?.()) ?? {} };
    const declared = (['redis', 'minio'] as const).filter((k) => env.data[k]);
    const services = tier.servicesStatus ? formatServicesStatus(env.name, report.services) : declared.length ? [`${declared.join(' and ')} of ${env.name}: not reported by the ${env.driver} ${env.data.postgres.topology} data tier yet`] : [];
    if (!o.json) for (const line of [...(ha ? formatHaStatus(env.name, ha) : [`postgres of ${env.name}: single (infra-deploy:status probes it)`]), ...services]) o.log.info(line);
    return report;
  }
  if (env.data.postgres.topology !== 'ha') {
    throw new VezaError(`environment ${env.name} uses the single topology: ${o.action} needs the HA formation`, `set data.postgres.topology: ha in infra/environments/${env.name}.yaml (README, "PostgreSQL HA")`, 'BAD_CONFIG');
  }
  if (o.action === 'backup' && o.type !== 'full' && o.type !== 'diff') {
    throw new VezaError(`--type must be full or diff, not ${JSON.stringify(o.type)}`, 'run infra-data:backup --type=full (weekly) or --type=diff (daily)', 'INVALID_INPUT');
  }
  const tier = createDataTier(env, { workspaceRoot: o.workspace.root, log: o.log });
  if (!isHaOperations(tier)) throw new VezaError(`the ${env.driver} data tier of ${env.name} has no HA operations`, 'this is a bug: every ha topology has them', 'NOT_IMPLEMENTED');
  switch (o.action) {
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
  return undefined;
}
