import type { Tree } from '@nx/devkit';
import type { Environment } from '@veza/engine/config/environment';
import { VezaError } from '@veza/engine/log/errors';
import { ciEnvironments } from '../../../scripts/resolve-release';
import { readEnvironments } from '../shared/tree-config';
import { userFacing } from '../shared/user-error';
import { renderWorkflow, type WorkflowInput } from './workflow';

export const WORKFLOW_FILE = '.forgejo/workflows/deploy.yml';
/** The environments the fixed triggers deploy to (resolveRelease): push to main, and a v* tag. */
const TRIGGERED_ENVS = ['staging', 'prod'];

function passwordEnvs(e: Environment): (string | undefined)[] {
  const d = e.data;
  return [d.postgres.passwordEnv, d.redis?.passwordEnv, d.rabbitmq?.passwordEnv, d.minio?.passwordEnv];
}

const names = (xs: (string | undefined)[]) => [...new Set(xs.filter((x): x is string => x !== undefined))].sort();

/** Everything the workflow depends on comes from the environment files, so it never lists a secret or an env by hand. */
export function workflowInput(environments: Environment[]): WorkflowInput {
  const envs = ciEnvironments(environments);
  const missing = TRIGGERED_ENVS.filter((e) => !envs.includes(e));
  if (missing.length) {
    throw new VezaError(`the deploy workflow deploys ${missing.join(' and ')}, but there is no such environment with a shared (https) registry`,
      `add infra/environments/${missing[0]}.yaml (npx nx g @veza/generators:environment ${missing[0]} --driver=incus --hosts=…)`, 'UNKNOWN_ENV');
  }
  const deployed = environments.filter((e) => envs.includes(e.name));
  const tokens = names(deployed.map((e) => e.registry.tokenEnv));
  return { envs, publishSecrets: tokens, deploySecrets: names([...tokens, ...deployed.flatMap(passwordEnvs)]) };
}

/** Idempotent: an unchanged workflow is left alone, so a second run reports no change. */
export function generateCiWorkflow(tree: Tree): void {
  const text = renderWorkflow(workflowInput(readEnvironments(tree)));
  if (tree.read(WORKFLOW_FILE, 'utf8') !== text) tree.write(WORKFLOW_FILE, text);
}

export default userFacing((tree: Tree) => generateCiWorkflow(tree));
