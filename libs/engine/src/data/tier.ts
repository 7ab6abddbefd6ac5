import type { Environment } from '../config/environment';
import { createLogger, type Logger } from '../log/logger';
import { createProcessRunner, type ProcessRunner } from '../ports/process';
import { IncusDataTier } from './incus/tier';
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
  if (env.driver === 'incus') return new IncusDataTier(env, runner, log);
  return new LocalDataTier(env, deps.workspaceRoot, runner, log);
}
