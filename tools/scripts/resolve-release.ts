/**
 * The `resolve` job of .forgejo/workflows/deploy.yml (seed 000): which
 * environment and release sha this run deploys, decided by the engine's own
 * resolveRelease from the Actions variables (GITHUB_EVENT_NAME, GITHUB_REF,
 * GITHUB_SHA) and the event payload at GITHUB_EVENT_PATH. Prints `env=`,
 * `sha=` and `base=` lines for $GITHUB_OUTPUT; anything that does not deploy
 * is refused with one line on stderr and exit 1.
 *
 *   node -r @swc-node/register tools/scripts/resolve-release.ts
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { listEnvironments, loadEnvironment, type Environment } from '@veza/engine/config/environment';
import { PATTERNS } from '@veza/engine/config/names';
import { describeError, VezaError } from '@veza/engine/log/errors';
import { resolveRelease, triggerFromActions } from '@veza/engine/release/resolve';

const WORKSPACE_ROOT = join(__dirname, '..', '..');

/**
 * CI deploys only environments whose registry is shared (Forgejo over https):
 * the build job publishes from another runner than the deploy, and a `file:`
 * registry (local, test tiers) exists on one machine only.
 */
export function ciEnvironments(envs: Pick<Environment, 'name' | 'registry'>[]): string[] {
  return envs.filter((e) => e.registry.url.startsWith('https://')).map((e) => e.name).sort();
}

export interface CiRelease {
  env: string;
  sha: string;
  /** What `nx affected` compares against; empty when the trigger names no earlier commit. */
  base: string;
}

// A push that creates a ref (a new tag or branch) reports this as its `before`.
const NO_COMMIT = /^0{40}$/;

export function resolveCiRelease(vars: NodeJS.ProcessEnv, payload: unknown, envs: readonly string[]): CiRelease {
  const release = resolveRelease(triggerFromActions(vars, payload), envs);
  const before = (payload as { before?: unknown } | null)?.before;
  const base = vars.GITHUB_EVENT_NAME === 'push' && typeof before === 'string' && PATTERNS.sha.test(before) && !NO_COMMIT.test(before) ? before : '';
  return { ...release, base };
}

export function formatOutputs(r: CiRelease): string {
  return `env=${r.env}\nsha=${r.sha}\nbase=${r.base}\n`;
}

function readPayload(path: string | undefined): unknown {
  if (!path) return null;
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new VezaError(`cannot read the event payload ${path}: ${(e as Error).message}`, 'run this inside an Actions job, which sets GITHUB_EVENT_PATH', 'INVALID_INPUT');
  }
}

export async function main(vars: NodeJS.ProcessEnv = process.env, workspaceRoot = WORKSPACE_ROOT): Promise<string> {
  const envs = await Promise.all((await listEnvironments(workspaceRoot)).map((name) => loadEnvironment(workspaceRoot, name)));
  return formatOutputs(resolveCiRelease(vars, readPayload(vars.GITHUB_EVENT_PATH), ciEnvironments(envs)));
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
