import { join } from 'node:path';
import { VezaError } from '../../log/errors';
import { validate } from '../../config/names';

/**
 * Where the local driver keeps an environment's runtime state: everything
 * under `<workspace>/.veza/envs/<env>/` (gitignored), so one `rm -rf` of that
 * folder after `infra-deploy:down` forgets the environment.
 */
export function localEnvDir(workspaceRoot: string, env: string): string {
  return join(workspaceRoot, '.veza', 'envs', validate.env(env));
}

export function localSlotsDir(workspaceRoot: string, env: string): string {
  return join(localEnvDir(workspaceRoot, env), 'slots');
}

/** Slot names become path segments and process titles: keep them to the slotName() alphabet. */
const SLOT_NAME = /^[a-z][a-z0-9-]{0,62}$/;

export function checkSlotName(name: unknown): string {
  if (typeof name !== 'string' || !SLOT_NAME.test(name)) {
    throw new VezaError(`invalid slot name ${JSON.stringify(name)}`, 'slot names look like veza-local-api-blue (see hosts/naming.ts slotName)', 'INVALID_INPUT');
  }
  return name;
}

export interface SlotPaths {
  dir: string;
  app: string;
  envFile: string;
  slotJson: string;
  pidFile: string;
  /** Written by the supervisor: the identity of the command it runs right now. */
  childFile: string;
  log: string;
}

export function slotPaths(dir: string): SlotPaths {
  return {
    dir,
    app: join(dir, 'app'),
    envFile: join(dir, 'env'),
    slotJson: join(dir, 'slot.json'),
    pidFile: join(dir, 'pid'),
    childFile: join(dir, 'child.pid'),
    log: join(dir, 'log'),
  };
}
