import { Document } from 'yaml';

/**
 * The Forgejo deploy workflow (seed 000, 989d88236b) as data, rendered to
 * YAML. Every value a step needs reaches its script through `env:`; no
 * `${{ }}` expression is ever spliced into a `run:` script, so no input can
 * become shell code.
 */
export interface WorkflowInput {
  /** The workflow_dispatch choice: the environments CI deploys to. */
  envs: string[];
  /** Variables holding the registry tokens: needed to publish. */
  publishSecrets: string[];
  /** Every secret a deploy reads (tokens and data-tier passwords). */
  deploySecrets: string[];
}

export const ACTIONS = {
  checkout: 'https://code.forgejo.org/actions/checkout@v4',
  setupNode: 'https://code.forgejo.org/actions/setup-node@v4',
  // Forgejo's fork: upstream upload-artifact v4 refuses to run against a server that is not github.com.
  uploadArtifact: 'https://code.forgejo.org/forgejo/upload-artifact@v4',
} as const;

/** The deploy runner has root-equivalent access to the Incus host (its socket is mounted in). */
export const DEPLOY_RUNNER = ['self-hosted', 'incus'];
export const BUILD_RUNNER = 'ubuntu-latest';
export const LOG_RETENTION_DAYS = 30;
export const NODE_VERSION = '20';

const SECRETS_FILE = '"$RUNNER_TEMP/veza-deploy-secrets.env"';
const LOG_DIR = 'veza-logs';
const logFile = (name: string) => `"$RUNNER_TEMP/${LOG_DIR}/${name}.log"`;

const out = (name: string) => `\${{ needs.resolve.outputs.${name} }}`;
const secret = (name: string) => `\${{ secrets.${name} }}`;
const secretsEnv = (names: string[]) => Object.fromEntries(names.map((n) => [n, secret(n)]));

/** `history`: the release needs the commit's ancestors; the resolve job needs main and the tags. */
function setupSteps(checkout: { ref?: string; history?: boolean }): Record<string, unknown>[] {
  const options = { ...(checkout.ref ? { ref: checkout.ref } : {}), ...(checkout.history ? { 'fetch-depth': 0 } : {}) };
  return [
    { name: 'Check out', uses: ACTIONS.checkout, ...(Object.keys(options).length ? { with: options } : {}) },
    { name: 'Set up Node', uses: ACTIONS.setupNode, with: { 'node-version': NODE_VERSION } },
  ];
}

const script = (...lines: string[]) => `${lines.join('\n')}\n`;

export function buildWorkflow(input: WorkflowInput): Record<string, unknown> {
  // No daemon in CI, so Nx would start a plugin worker process per command; our one plugin is plain JS and cheap in-process.
  // Each job takes a copy: one object used twice would be rendered as a YAML anchor.
  const releaseEnv = { VEZA_ENV: out('env'), VEZA_RELEASE_SHA: out('sha'), NX_DAEMON: 'false', NX_ISOLATE_PLUGINS: 'false', NX_NO_CLOUD: 'true' };
  // Keyed on the resolved env, so two runs for one environment never overlap; the newer commit is what the operator wants.
  const concurrency = () => ({ group: `veza-deploy-${out('env')}`, 'cancel-in-progress': true });
  return {
    name: 'deploy',
    // Deliberately no pull_request, pull_request_target or any other event a fork can cause: the deploy runner controls the host.
    on: {
      push: { branches: ['main'], tags: ['v*'] },
      workflow_dispatch: {
        inputs: {
          env: { description: 'Environment to deploy', type: 'choice', required: true, options: input.envs },
          release_sha: { description: 'Full 40-hex commit to deploy (empty: the commit this run is on)', type: 'string', required: false, default: '' },
        },
      },
    },
    permissions: { contents: 'read' },
    defaults: { run: { shell: 'bash' } },
    jobs: {
      resolve: {
        name: 'Resolve environment and release',
        'runs-on': BUILD_RUNNER,
        outputs: {
          env: '${{ steps.resolve.outputs.env }}',
          sha: '${{ steps.resolve.outputs.sha }}',
        },
        steps: [
          // History and tags: a dispatched commit must be on main or tagged v*.
          ...setupSteps({ history: true }),
          { name: 'Install npm packages', run: 'npm ci --no-audit --no-fund --loglevel=error\n' },
          {
            name: "Resolve with the engine's resolveRelease",
            id: 'resolve',
            run: 'node -r @swc-node/register tools/scripts/resolve-release.ts | tee -a "$GITHUB_OUTPUT"\n',
          },
        ],
      },
      build: {
        name: 'Build what changed and publish the release',
        needs: 'resolve',
        'runs-on': BUILD_RUNNER,
        concurrency: concurrency(),
        env: { ...releaseEnv },
        steps: [
          // History: the release looks for the previous published release among the commit's ancestors.
          ...setupSteps({ ref: out('sha'), history: true }),
          { name: 'Install toolchains and npm packages', run: 'bash tools/scripts/setup.sh\n' },
          // The tests strip types without checking them: the type check, the import-direction lint and shellcheck run here.
          { name: 'Type-check and lint', run: script('npm run typecheck', 'npm run lint') },
          {
            // Builds only the components whose inputs changed since the previous release (their tests, build and
            // package run without the token), publishes them, and publishes the manifest the deploy job fetches.
            name: 'Build what changed and publish the release manifest',
            env: secretsEnv(input.publishSecrets),
            run: 'npx nx run infra-deploy:release --env="$VEZA_ENV" --sha="$VEZA_RELEASE_SHA"\n',
          },
        ],
      },
      deploy: {
        name: 'Deploy the published release',
        needs: ['resolve', 'build'],
        'runs-on': DEPLOY_RUNNER,
        concurrency: concurrency(),
        env: { ...releaseEnv },
        steps: [
          // For the environment, edge and component declarations and the engine: nothing here is built.
          ...setupSteps({ ref: out('sha') }),
          { name: "Install the engine's npm packages (no toolchain)", run: 'bash tools/scripts/setup.sh --deploy-only\n' },
          {
            name: 'Write the deploy secrets to a private temporary file',
            env: secretsEnv(input.deploySecrets),
            run: script(
              'umask 077',
              `for name in ${input.deploySecrets.join(' ')}; do`,
              `  printf '%s=%q\\n' "$name" "\${!name}"`,
              `done > ${SECRETS_FILE}`,
            ),
          },
          {
            // --excludeTaskDependencies: no package task runs, so the deploy takes only the published release and
            // refuses an unpublished sha before any side effect.
            name: 'Deploy the release',
            run: script(
              'set -a',
              `. ${SECRETS_FILE}`,
              'set +a',
              `mkdir -p "$RUNNER_TEMP/${LOG_DIR}"`,
              `npx nx run infra-deploy:deploy --env="$VEZA_ENV" --sha="$VEZA_RELEASE_SHA" --excludeTaskDependencies 2>&1 | tee ${logFile('deploy')}`,
            ),
          },
          {
            name: 'Shred the secrets file',
            if: 'always()',
            run: script(`if [ -e ${SECRETS_FILE} ]; then shred --remove --zero ${SECRETS_FILE}; fi`),
          },
          {
            name: 'Upload the deploy logs',
            if: 'always()',
            uses: ACTIONS.uploadArtifact,
            with: {
              name: `deploy-logs-${out('env')}-${out('sha')}`,
              path: `\${{ runner.temp }}/${LOG_DIR}`,
              'retention-days': LOG_RETENTION_DAYS,
            },
          },
        ],
      },
    },
  };
}

export function renderWorkflow(input: WorkflowInput): string {
  const doc = new Document(buildWorkflow(input));
  doc.commentBefore = [
    ' Generated by `npx nx g @veza/generators:ci-workflow` from infra/environments/*.yaml;',
    ' change the generator (tools/generators/src/ci-workflow) and regenerate, do not edit.',
    '',
    ' push to main deploys staging, a v* tag deploys prod, workflow_dispatch deploys the chosen',
    ' environment at release_sha (or the run commit). tools/scripts/resolve-release.ts decides,',
    ' with the engine\'s resolveRelease; every other event is refused.',
    '',
    ' SECURITY: no pull_request or other fork-influenced trigger, ever: the deploy runner',
    ` (${DEPLOY_RUNNER.join(', ')}) has the Incus socket, i.e. root on the host.`,
    ' Secrets reach steps only through env: and a 0600 temp file shredded in an always() step.',
    '',
    ' Repository secrets the operator sets up:',
    ...input.deploySecrets.map((s) => `   ${s}`),
  ].join('\n');
  return doc.toString({ lineWidth: 0 });
}
