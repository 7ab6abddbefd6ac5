import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { isVezaError } from '@veza/engine/log/errors';
import { createProcessRunner } from '@veza/engine/ports/process';
import { ciEnvironments, formatOutputs, main, provenanceCommands, resolveCiRelease } from './resolve-release';

const ROOT = join(__dirname, '..', '..');
const ENVS = ['prod', 'staging'];
const SHA = '0123456789abcdef0123456789abcdef01234567';
const BEFORE = 'fedcba9876543210fedcba9876543210fedcba98';

const vars = (event: string, ref: string, sha = SHA) => ({ GITHUB_EVENT_NAME: event, GITHUB_REF: ref, GITHUB_SHA: sha });

test('each deploying trigger resolves to its environment and sha', () => {
  assert.deepEqual(resolveCiRelease(vars('push', 'refs/heads/main'), { before: BEFORE }, ENVS), { env: 'staging', sha: SHA });
  assert.deepEqual(resolveCiRelease(vars('push', 'refs/tags/v1.2.0'), { before: '0'.repeat(40) }, ENVS), { env: 'prod', sha: SHA });
  assert.deepEqual(resolveCiRelease(vars('workflow_dispatch', 'refs/heads/main'), { inputs: { env: 'prod', release_sha: BEFORE } }, ENVS), { env: 'prod', sha: BEFORE });
  assert.deepEqual(resolveCiRelease(vars('workflow_dispatch', 'refs/heads/main'), { inputs: { env: 'staging', release_sha: '' } }, ENVS), { env: 'staging', sha: SHA });
  assert.equal(formatOutputs({ env: 'prod', sha: SHA }), `env=prod\nsha=${SHA}\n`);
});

test('pull requests, other refs and bad input are refused by the engine', () => {
  const refused = (v: NodeJS.ProcessEnv, payload: unknown, re: RegExp) =>
    assert.throws(() => resolveCiRelease(v, payload, ENVS), (e: unknown) => isVezaError(e) && re.test(e.message));
  refused(vars('pull_request', 'refs/pull/3/merge'), {}, /the pull_request event never deploys/);
  refused(vars('pull_request_target', 'refs/heads/main'), {}, /never deploys/);
  refused(vars('push', 'refs/heads/feature'), {}, /does not deploy/);
  refused(vars('push', 'refs/heads/main', 'HEAD'), {}, /not a 40-hex sha/);
  refused(vars('workflow_dispatch', 'refs/heads/main'), { inputs: { env: 'local' } }, /unknown environment "local"/);
  refused(vars('workflow_dispatch', 'refs/heads/main'), { inputs: { env: 'prod', release_sha: 'abc' } }, /release_sha "abc" is not a full 40-hex/);
});

test('CI deploys only the environments with a shared (https) registry', () => {
  const registry = (url: string) => ({ url, owner: 'veza' });
  assert.deepEqual(ciEnvironments([
    { name: 'staging', registry: registry('https://forgejo.example/api/packages') },
    { name: 'local', registry: registry('file:.veza/registry') },
    { name: 'incus-test', registry: registry('file:.veza/registry') },
    { name: 'prod', registry: registry('https://forgejo.example/api/packages') },
  ]), ['prod', 'staging']);
});

test('with every job on one host (the act runner test), a file: registry is shared too', () => {
  const envs = [
    { name: 'staging', registry: { url: 'file:/srv/registry', owner: 'veza' } },
    { name: 'prod', registry: { url: 'https://forgejo.example/api/packages', owner: 'veza' } },
  ];
  assert.deepEqual(ciEnvironments(envs), ['prod']);
  assert.deepEqual(ciEnvironments(envs, true), ['prod', 'staging']);
});

const git = promisify(execFile);

/**
 * A real repository as the resolve job's checkout sees it: main (also as
 * origin/main), a feature branch nobody merged, and a v* tag on a commit off main.
 */
async function checkout(dir: string): Promise<{ onMain: string; feature: string; tagged: string }> {
  const g = async (...args: string[]) => (await git('git', ['-c', 'user.name=t', '-c', 'user.email=t@t.invalid', ...args], { cwd: dir })).stdout.trim();
  await g('init', '-q', '-b', 'main');
  await g('commit', '-q', '--allow-empty', '-m', 'on main');
  const onMain = await g('rev-parse', 'HEAD');
  await g('update-ref', 'refs/remotes/origin/main', onMain);
  await g('checkout', '-q', '-b', 'feature');
  await g('commit', '-q', '--allow-empty', '-m', 'unreviewed');
  const feature = await g('rev-parse', 'HEAD');
  await g('checkout', '-q', '--detach', onMain);
  await g('commit', '-q', '--allow-empty', '-m', 'hotfix release');
  const tagged = await g('rev-parse', 'HEAD');
  await g('tag', 'v1.0.1');
  return { onMain, feature, tagged };
}

test('main reads the environment files and the event payload of the run; a dispatch deploys only a commit on main or tagged v*', async (t) => {
  const dir = await fs.mkdtemp(join(tmpdir(), 'veza-resolve-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  const repo = join(dir, 'repo');
  await fs.mkdir(repo);
  const c = await checkout(repo);
  const event = join(dir, 'event.json');
  const dispatch = async (inputs: Record<string, string>, runSha = c.onMain) => {
    await fs.writeFile(event, JSON.stringify({ inputs }));
    return main({ ...vars('workflow_dispatch', 'refs/heads/main', runSha), GITHUB_EVENT_PATH: event }, ROOT, repo, createProcessRunner());
  };
  assert.equal(await dispatch({ env: 'prod', release_sha: c.onMain }), `env=prod\nsha=${c.onMain}\n`);
  assert.equal(await dispatch({ env: 'prod', release_sha: c.tagged }), `env=prod\nsha=${c.tagged}\n`);
  assert.equal(await dispatch({ env: 'staging' }), `env=staging\nsha=${c.onMain}\n`);
  await assert.rejects(dispatch({ env: 'prod', release_sha: c.feature }), new RegExp(`commit ${c.feature} is neither on main .* nor tagged v\\*`));
  // Dispatched from the feature branch with no release_sha: the run's own commit is held to the same bar.
  await assert.rejects(dispatch({ env: 'staging' }, c.feature), /is neither on main/);
  await assert.rejects(dispatch({ env: 'prod', release_sha: BEFORE }), /is neither on main/);
  await assert.rejects(dispatch({ env: 'local' }), /unknown environment "local"/);
  assert.deepEqual(provenanceCommands(c.onMain).onMain, ['git', 'merge-base', '--is-ancestor', c.onMain, 'refs/remotes/origin/main']);
});

test('as a CLI: outputs for $GITHUB_OUTPUT on stdout; a refusal is one line on stderr and exit 1', async (t) => {
  const dir = await fs.mkdtemp(join(tmpdir(), 'veza-resolve-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  const event = join(dir, 'event.json');
  await fs.writeFile(event, JSON.stringify({ before: BEFORE, ref: 'refs/heads/main' }));
  const run = (env: NodeJS.ProcessEnv) => promisify(execFile)(process.execPath, ['-r', '@swc-node/register', 'tools/scripts/resolve-release.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, SWC_NODE_PROJECT: join(ROOT, 'tsconfig.base.json'), GITHUB_EVENT_PATH: event, ...env },
  });
  assert.deepEqual(await run(vars('push', 'refs/heads/main')), { stdout: `env=staging\nsha=${SHA}\n`, stderr: '' });
  await assert.rejects(run(vars('pull_request', 'refs/pull/1/merge')), (e: { code: number; stdout: string; stderr: string }) => {
    assert.equal(e.code, 1);
    assert.equal(e.stdout, '');
    assert.match(e.stderr, /^resolve-release: the pull_request event never deploys — deploys run only on a push to main, a v\* tag or workflow_dispatch; [^\n]+\n$/);
    return true;
  });
});
