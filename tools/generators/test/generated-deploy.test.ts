import assert from 'node:assert/strict';
import { test } from 'node:test';
import { httpGet } from '@veza/engine/util/http';
import { reportedRelease } from '@veza/engine/deploy/probe';
import { copyRepository } from '../../../test/e2e/support/copy';
import { stopEverything } from '../../../test/e2e/support/workspace';

/**
 * The promise of the component generator, end to end on `local`: in a
 * committed copy of this repository (its own loopback subnet and edge port),
 * `nx g` creates a node component and `nx run infra-deploy:deploy` deploys it
 * beside the others with no other edit — the edge routes its prefix to it
 * and it reports the release through the public URL.
 */
const SUBNET = '127.79.47';
const PORT = 18447;

test('a generated node component deploys on local and answers through the edge', async (t) => {
  const repo = await copyRepository(t, { subnet: SUBNET, port: PORT });
  repo.defer(() => stopEverything(repo.dir, 'local'));
  const nx = async (...args: string[]) => {
    const r = await repo.nx(...args);
    assert.equal(r.code, 0, `nx ${args.join(' ')}:\n${r.out}`);
    return r.out;
  };
  const publicGet = (path: string) => httpGet({ host: `${SUBNET}.1`, port: PORT, hostHeader: `veza.localhost:${PORT}`, path, timeoutMs: 5_000 });

  await nx('g', '@veza/generators:component', 'demo-svc', '--kind=node', '--routes=/demo');
  const sha = await repo.commit('a generated component');
  const out = await nx('run', 'infra-deploy:deploy', '--env=local');
  assert.match(out, new RegExp(`release ${sha} is live on green`));
  assert.match(out, /> nx run demo-svc:package/, 'the graph packages the new component');
  assert.match(out, new RegExp(`\\[release\\] demo-svc: demo-svc@${sha} [0-9a-f]{12}… published`), 'and the deploy publishes it, once the request is checked');

  const status = await publicGet('/demo/status');
  assert.equal(status.status, 200);
  assert.equal(JSON.parse(status.body).component, 'demo-svc');
  assert.equal(reportedRelease(status.body), sha);
  assert.equal((await publicGet('/demo/health')).status, 200);
  assert.equal(reportedRelease((await publicGet('/api/v1/status')).body), sha, 'the other components deployed beside it');
});
