import { setTimeout as sleep } from 'node:timers/promises';
import { VezaError } from '../log/errors';
import { createLogger } from '../log/logger';
import { checkSeconds, deploy, type DeployOptions, type DeployResult } from './deploy';
import { promote } from './promote';

/**
 * `infra-deploy:deploy` as a command: the deploy, then — for a `--no-switch`
 * deploy that left a preview, when the environment's autoPromoteSeconds (or
 * `--auto-promote`) is set — a wait in the foreground and the promote of
 * exactly that release. The wait holds no lock: the preview deploy is
 * finished and audited, and the promote takes the lock afresh and refuses,
 * changing nothing, when the inactive colour no longer holds the previewed
 * release or is unhealthy, or when someone holds the lock (`veza lock`
 * keeps a preview from going live). Interrupting the command during the
 * wait leaves the preview for a manual `veza promote`.
 */
export interface DeployCommandOptions extends DeployOptions {
  /** Seconds before the preview goes live, instead of the environment's autoPromoteSeconds; 0: it waits for promote. */
  autoPromote?: number;
}

export async function deployCommand(o: DeployCommandOptions): Promise<DeployResult> {
  checkSeconds('auto-promote', o.autoPromote, 'a preview goes live after', 'pass --auto-promote=0 to keep the preview until veza promote, or --auto-promote=300 for five minutes');
  if (o.autoPromote && o.switch !== false) {
    throw new VezaError(`--auto-promote=${o.autoPromote} needs --no-switch: without it the deploy switches at once`, 'add --no-switch to preview the release first, or drop --auto-promote', 'INVALID_INPUT');
  }
  const seconds = o.switch === false ? o.autoPromote ?? o.workspace.env(o.env).autoPromoteSeconds : 0;
  const placed = await deploy(o);
  // A no-op deploy placed nothing to preview: the release already serves.
  if (seconds === 0 || placed.outcome !== 'success') return placed;
  const log = o.log ?? createLogger({ format: o.json ? 'json' : undefined });
  if (placed.dryRun) {
    log.info(`[plan] after ${seconds} s (autoPromoteSeconds), promote ${placed.sha} on ${placed.env} if ${placed.color} still holds it, healthy`);
    return placed;
  }
  log.info(`promoting ${placed.sha} on ${placed.env} in ${seconds} s (autoPromoteSeconds); to keep it in preview: npx veza lock --env=${placed.env}, or interrupt this command`);
  await sleep(seconds * 1_000);
  return promote({ ...o, sha: placed.sha, dryRun: false });
}
