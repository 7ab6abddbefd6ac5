import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isVezaError } from '../log/errors';
import { resolveRelease, triggerFromActions, type Trigger } from './resolve';

const ENVS = ['local', 'prod', 'staging'];
const SHA = '0123456789abcdef0123456789abcdef01234567';
const OTHER = 'fedcba9876543210fedcba9876543210fedcba98';

function refused(t: Trigger, message: RegExp, code: string, envs = ENVS): void {
  assert.throws(() => resolveRelease(t, envs), (e: unknown) => {
    assert.ok(isVezaError(e));
    assert.match(e.message, message);
    assert.equal(e.code, code);
    assert.ok(e.hint.length > 0);
    return true;
  });
}

test('a push to main deploys its commit to staging', () => {
  assert.deepEqual(resolveRelease({ event: 'push', ref: 'refs/heads/main', sha: SHA }, ENVS), { env: 'staging', sha: SHA });
});

test('a v* tag deploys its commit to prod, whether reported as push or tag', () => {
  assert.deepEqual(resolveRelease({ event: 'push', ref: 'refs/tags/v1.4.0', sha: SHA }, ENVS), { env: 'prod', sha: SHA });
  assert.deepEqual(resolveRelease({ event: 'tag', ref: 'refs/tags/v2', sha: SHA }, ENVS), { env: 'prod', sha: SHA });
});

test('workflow_dispatch deploys the operator-chosen env, at release_sha or the run commit', () => {
  assert.deepEqual(resolveRelease({ event: 'workflow_dispatch', ref: 'refs/heads/main', sha: SHA, inputs: { env: 'prod', release_sha: OTHER } }, ENVS), { env: 'prod', sha: OTHER });
  assert.deepEqual(resolveRelease({ event: 'workflow_dispatch', ref: 'refs/heads/main', sha: SHA, inputs: { env: ' staging ', release_sha: '' } }, ENVS), { env: 'staging', sha: SHA });
  assert.deepEqual(resolveRelease({ event: 'workflow_dispatch', ref: 'refs/heads/x', sha: SHA, inputs: { env: 'local' } }, ENVS), { env: 'local', sha: SHA });
});

test('pull requests, other branches, other tags and other events are refused', () => {
  refused({ event: 'pull_request', ref: 'refs/pull/7/merge', sha: SHA }, /the pull_request event never deploys/, 'NOT_DEPLOYABLE');
  refused({ event: 'pull_request_target', ref: 'refs/heads/main', sha: SHA }, /never deploys/, 'NOT_DEPLOYABLE');
  refused({ event: 'schedule', ref: 'refs/heads/main', sha: SHA }, /never deploys/, 'NOT_DEPLOYABLE');
  refused({ event: '', ref: 'refs/heads/main', sha: SHA }, /\(unnamed\) event never deploys/, 'NOT_DEPLOYABLE');
  refused({ event: 'push', ref: 'refs/heads/feature/x', sha: SHA }, /push of refs\/heads\/feature\/x does not deploy/, 'NOT_DEPLOYABLE');
  refused({ event: 'push', ref: 'refs/heads/mainline', sha: SHA }, /does not deploy/, 'NOT_DEPLOYABLE');
  refused({ event: 'push', ref: 'refs/tags/release-1', sha: SHA }, /does not deploy/, 'NOT_DEPLOYABLE');
  refused({ event: 'push', ref: 'refs/tags/v1/rc', sha: SHA }, /does not deploy/, 'NOT_DEPLOYABLE');
  refused({ event: 'tag', ref: 'refs/heads/main', sha: SHA }, /tag of refs\/heads\/main does not deploy/, 'NOT_DEPLOYABLE');
});

test('bad shas and bad or unknown environments are refused with what to do', () => {
  refused({ event: 'push', ref: 'refs/heads/main', sha: 'HEAD' }, /triggering commit "HEAD" is not a 40-hex sha/, 'INVALID_INPUT');
  refused({ event: 'push', ref: 'refs/heads/main', sha: SHA }, /a push to main deploys to staging, but there is no environment staging/, 'UNKNOWN_ENV', ['local', 'prod']);
  refused({ event: 'push', ref: 'refs/tags/v1', sha: SHA }, /tag v1 deploys to prod, but there is no environment prod/, 'UNKNOWN_ENV', ['staging']);
  const dispatch = (inputs: Trigger['inputs']): Trigger => ({ event: 'workflow_dispatch', ref: 'refs/heads/main', sha: SHA, inputs });
  refused(dispatch({}), /without an env input/, 'INVALID_INPUT');
  refused(dispatch({ env: 'qa' }), /unknown environment "qa"/, 'UNKNOWN_ENV');
  refused(dispatch({ env: 'prod; rm -rf /' }), /unknown environment/, 'UNKNOWN_ENV');
  refused(dispatch({ env: 'prod', release_sha: 'abc123' }), /release_sha "abc123" is not a full 40-hex commit sha/, 'INVALID_INPUT');
  refused(dispatch({ env: 'prod', release_sha: SHA.toUpperCase() }), /is not a full 40-hex/, 'INVALID_INPUT');
  refused(dispatch({ env: 'prod', release_sha: `${SHA}\nX` }), /is not a full 40-hex/, 'INVALID_INPUT');
});

test('the trigger is read from the Actions variables and the event payload', () => {
  const vars = { GITHUB_EVENT_NAME: 'workflow_dispatch', GITHUB_REF: 'refs/heads/main', GITHUB_SHA: SHA };
  const t = triggerFromActions(vars, { inputs: { env: 'prod', release_sha: OTHER } });
  assert.deepEqual(t, { event: 'workflow_dispatch', ref: 'refs/heads/main', sha: SHA, inputs: { env: 'prod', release_sha: OTHER } });
  assert.deepEqual(resolveRelease(t, ENVS), { env: 'prod', sha: OTHER });
  const push = triggerFromActions({ GITHUB_EVENT_NAME: 'push', GITHUB_REF: 'refs/heads/main', GITHUB_SHA: SHA }, { ref: 'refs/heads/main', inputs: null });
  assert.deepEqual(resolveRelease(push, ENVS), { env: 'staging', sha: SHA });
  assert.deepEqual(triggerFromActions({}, null), { event: '', ref: '', sha: '', inputs: { env: undefined, release_sha: undefined } });
  assert.equal(triggerFromActions(vars, { inputs: { env: 7 } }).inputs?.env, undefined);
});
