import type { TestContext } from 'node:test';
import { environmentSchema, type Environment } from '../../../config/environment';
import { createMemoryLogger } from '../../../log/logger';
import { createProcessRunner } from '../../../ports/process';
import { tempWorkspace } from '../../../hosts/local/testing/fixtures';
import type { DataTier } from '../../port';
import { createDataTier } from '../../tier';
import { localPgPaths } from '../postgres';

/** A local environment on its own loopback subnet with the given data services (the tests' own addresses and ports); `over` replaces whole top-level keys. */
export function localDataEnv(name: string, subnet: string, data: object, over: Record<string, unknown> = {}): Environment {
  return environmentSchema.parse({
    name,
    driver: 'local',
    prefix: `veza-${name}-`,
    publicHosts: ['localhost'],
    publicUrl: 'http://localhost:18080',
    edge: 'local-edge',
    registry: { url: 'file:.veza/registry', owner: 'veza' },
    local: { subnet },
    data,
    ...over,
  });
}

/** A temporary workspace whose data tier (real processes) is stopped when the test ends, pass or fail. */
export async function localDataTier(t: TestContext, env: Environment) {
  const tmp = await tempWorkspace(t, env.name);
  const log = createMemoryLogger();
  const tier = (): DataTier => createDataTier(env, { workspaceRoot: tmp.dir, runner: createProcessRunner(), log });
  tmp.defer(() => tier().stop());
  return { dir: tmp.dir, log, tier, dataRoot: localPgPaths(tmp.dir, env.name).root };
}
