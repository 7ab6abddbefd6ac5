/**
 * The `resolve` job of .forgejo/workflows/deploy.yml (seed 000): which
 * environment and release sha this run deploys, decided by the engine's own
 * resolveRelease from the Actions variables (GITHUB_EVENT_NAME, GITHUB_REF,
 * GITHUB_SHA) and the event payload at GITHUB_EVENT_PATH. Prints `env=`
 * and `sha=` lines for $GITHUB_OUTPUT; anything that does not deploy
 * is refused with one line on stderr and exit 1. A manual dispatch deploys
 * only a commit on main or one tagged `v*` (the checkout must have the full
 * history and tags).
 *
 *   node -r @swc-node/register tools/scripts/resolve-release.ts
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Environment } from '@veza/engine/config/environment';
import { loadWorkspace } from '@veza/engine/config/workspace';
import { describeError, VezaError } from '@veza/engine/log/errors';
import { createProcessRunner, type ProcessRunner } from '@veza/engine/ports/process';
import { resolveRelease, triggerFromActions, type ResolvedRelease } from '@veza/engine/release/resolve';

const WORKSPACE_ROOT = join(__dirname, '..', '..');

/**
 * CI deploys only environments whose registry is shared (Forgejo over https):
 * the build job publishes from another runner than the deploy, and a `file:`
 * registry (local, test tiers) exists on one machine only.
 */
export function ciEnvironments(envs: { name: string; registry: Environment['registry'] }[], oneHost = false): string[] {
  return envs.filter((e) => e.registry.url.startsWith('https://') || (oneHost && e.registry.url.startsWith('file:'))).map((e) => e.name).sort();
}

/**
 * Set to 1 by the CI runner test (test/ci), whose act runs every job on this
 * one host: there a `file:` registry is shared by the build and deploy jobs.
 * The generated workflow never sets it.
 */
export const ONE_HOST_VAR = 'VEZA_CI_ONE_HOST';

export function resolveCiRelease(vars: NodeJS.ProcessEnv, payload: unknown, envs: readonly string[]): ResolvedRelease {
  return resolveRelease(triggerFromActions(vars, payload), envs);
}

export function formatOutputs(r: ResolvedRelease): string {
  return `env=${r.env}\nsha=${r.sha}\n`;
}

function readPayload(path: string | undefined): unknown {
  if (!path) return null;
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new VezaError(`cannot read the event payload ${path}: ${(e as Error).message}`, 'run this inside an Actions job, which sets GITHUB_EVENT_PATH', 'INVALID_INPUT');
  }
}

const MAIN_REF = 'refs/remotes/origin/main';

/** The git commands that tell whether a commit went through review: it is on main, or a `v*` tag names it. */
export function provenanceCommands(sha: string): { onMain: string[]; releaseTags: string[] } {
  return {
    onMain: ['git', 'merge-base', '--is-ancestor', sha, MAIN_REF],
    releaseTags: ['git', 'tag', '--points-at', sha, '--list', 'v*'],
  };
}

/**
 * A push deploys what was merged or tagged; a dispatch names its commit (or
 * runs on whatever branch the operator picked), so it is held to the same
 * bar: without this, any pushed branch could reach prod through the
 * workflow's own secrets.
 */
export async function checkDispatchedCommit(sha: string, gitDir: string, runner: ProcessRunner): Promise<void> {
  const cmds = provenanceCommands(sha);
  const onMain = await runner.run({ argv: cmds.onMain, cwd: gitDir, description: 'is the commit on main' }, { check: false });
  if (onMain.exitCode === 0) return;
  const tags = await runner.run({ argv: cmds.releaseTags, cwd: gitDir, description: 'release tags on the commit' }, { check: false });
  if (tags.exitCode === 0 && tags.stdout.trim() !== '') return;
  throw new VezaError(
    `commit ${sha} is neither on main (${MAIN_REF}) nor tagged v*, so a dispatch may not deploy it`,
    'merge it to main or tag it v*, then dispatch again; the checkout of the resolve job needs fetch-depth: 0 to see main and the tags',
    'NOT_DEPLOYABLE',
  );
}

export async function main(vars: NodeJS.ProcessEnv = process.env, workspaceRoot = WORKSPACE_ROOT, gitDir = workspaceRoot, runner: ProcessRunner = createProcessRunner()): Promise<string> {
  const workspace = await loadWorkspace(workspaceRoot);
  const envs = workspace.envNames.map((name) => workspace.env(name));
  const release = resolveCiRelease(vars, readPayload(vars.GITHUB_EVENT_PATH), ciEnvironments(envs, vars[ONE_HOST_VAR] === '1'));
  if (vars.GITHUB_EVENT_NAME === 'workflow_dispatch') await checkDispatchedCommit(release.sha, gitDir, runner);
  return formatOutputs(release);
}

if (require.main === module) {
  main().then(
    (out) => process.stdout.write(out),
    (e: unknown) => {
      process.stderr.write(`resolve-release: ${describeError(e)}\n`);
      process.exit(1);
    },
  );
}
