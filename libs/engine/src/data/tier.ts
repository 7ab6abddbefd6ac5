import type { Environment } from '../config/environment';
import { createLogger, type Logger } from '../log/logger';
import { createProcessRunner, type ProcessRunner } from '../ports/process';
import { IncusDataTier } from './incus/tier';
import { IncusHaTier } from './incus/ha-tier';
import { LocalHaTier } from './local/ha-tier';
import { LocalDataTier } from './local/tier';
import type { DataTier } from './port';

export interface DataTierDeps {
  workspaceRoot: string;
  runner?: ProcessRunner;
  log?: Logger;
}

export function createDataTier(env: Environment, deps: DataTierDeps): DataTier {
  const runner = deps.runner ?? createProcessRunner();
  const log = deps.log ?? createLogger();
  const ha = env.data.postgres.topology === 'ha';
  if (env.driver === 'incus') return ha ? new IncusHaTier(env, runner, log, deps.workspaceRoot) : new IncusDataTier(env, runner, log);
  return ha ? new LocalHaTier(env, deps.workspaceRoot, runner, log) : new LocalDataTier(env, deps.workspaceRoot, runner, log);
}
