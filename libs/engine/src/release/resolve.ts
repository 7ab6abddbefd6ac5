import { PATTERNS, validate } from '../config/names';
import { VezaError } from '../log/errors';

/**
 * Which environment and release sha a CI run deploys (seed 000's `resolve`
 * job). Only three triggers deploy: a push to main (staging), a `v*` tag
 * (prod), and an operator's workflow_dispatch. Everything else — above all
 * pull_request and other fork-influenced events — is refused: the deploy
 * runner has root-equivalent access to the host.
 */
export interface Trigger {
  /** GITHUB_EVENT_NAME; Forgejo and GitHub report a tag push as `push`, `tag` is accepted too. */
  event: string;
  /** GITHUB_REF, e.g. refs/heads/main or refs/tags/v1.2.0 */
  ref: string;
  /** GITHUB_SHA */
  sha: string;
  /** workflow_dispatch inputs */
  inputs?: { env?: string; release_sha?: string };
}

export interface ResolvedRelease {
  env: string;
  sha: string;
}

const MAIN = 'refs/heads/main';
// Actions' `tags: ['v*']` glob: `*` does not cross a `/`.
const RELEASE_TAG = /^refs\/tags\/v[^/]*$/;

export function resolveRelease(t: Trigger, knownEnvs: readonly string[]): ResolvedRelease {
  const known = (env: string, why: string): string => {
    if (!knownEnvs.includes(env)) {
      throw new VezaError(`${why} deploys to ${env}, but there is no environment ${env}`, `add infra/environments/${env}.yaml; known: ${knownEnvs.join(', ') || 'none'}`, 'UNKNOWN_ENV');
    }
    return env;
  };
  const eventSha = (): string => {
    try {
      return validate.sha(t.sha);
    } catch {
      throw new VezaError(`the triggering commit ${JSON.stringify(t.sha)} is not a 40-hex sha`, 'pass GITHUB_SHA of the run unchanged', 'INVALID_INPUT');
    }
  };

  if (t.event === 'push' || t.event === 'tag') {
    if (t.event === 'push' && t.ref === MAIN) return { env: known('staging', 'a push to main'), sha: eventSha() };
    if (RELEASE_TAG.test(t.ref)) return { env: known('prod', `tag ${t.ref.slice('refs/tags/'.length)}`), sha: eventSha() };
    throw new VezaError(
      `${t.event} of ${t.ref || '(no ref)'} does not deploy`,
      'only a push to main (staging), a v* tag (prod) or a manual workflow_dispatch deploys',
      'NOT_DEPLOYABLE',
    );
  }

  if (t.event === 'workflow_dispatch') {
    const env = (t.inputs?.env ?? '').trim();
    if (!env) throw new VezaError('workflow_dispatch without an env input', `choose the environment to deploy: ${knownEnvs.join(', ')}`, 'INVALID_INPUT');
    if (!PATTERNS.env.test(env) || !knownEnvs.includes(env)) {
      throw new VezaError(`unknown environment ${JSON.stringify(env)} in the workflow_dispatch inputs`, `use one of: ${knownEnvs.join(', ') || 'none'}`, 'UNKNOWN_ENV');
    }
    const given = (t.inputs?.release_sha ?? '').trim();
    if (!given) return { env, sha: eventSha() };
    if (!PATTERNS.sha.test(given)) {
      throw new VezaError(`release_sha ${JSON.stringify(given)} is not a full 40-hex commit sha`, 'pass the full lower-case sha (git rev-parse <ref>), or leave it empty to deploy the commit the run is on', 'INVALID_INPUT');
    }
    return { env, sha: given };
  }

  throw new VezaError(
    `the ${t.event || '(unnamed)'} event never deploys`,
    'deploys run only on a push to main, a v* tag or workflow_dispatch; pull requests and other fork-influenced events are excluded on purpose (the deploy runner controls the host)',
    'NOT_DEPLOYABLE',
  );
}

/**
 * Reads the trigger from an Actions run: GITHUB_EVENT_NAME, GITHUB_REF,
 * GITHUB_SHA, and the dispatch inputs from the event payload
 * (the JSON file at GITHUB_EVENT_PATH).
 */
export function triggerFromActions(vars: NodeJS.ProcessEnv, eventPayload: unknown): Trigger {
  const inputs = (eventPayload as { inputs?: Record<string, unknown> } | null)?.inputs ?? {};
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  return {
    event: vars.GITHUB_EVENT_NAME ?? '',
    ref: vars.GITHUB_REF ?? '',
    sha: vars.GITHUB_SHA ?? '',
    inputs: { env: str(inputs.env), release_sha: str(inputs.release_sha) },
  };
}
