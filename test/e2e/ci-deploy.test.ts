import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { copyRepository } from './support/copy';

/**
 * The generated workflow's deploy job runs exactly this command on the
 * Incus runner. With --excludeTaskDependencies no package task runs, so a
 * release the build job did not publish is refused at once — naming the sha
 * and the command that publishes it — before any lock, audit line, edge,
 * data tier or build.
 */
test('the deploy job\'s command refuses an unpublished release before anything happens, and builds nothing', async (t) => {
  const repo = await copyRepository(t, { subnet: '127.79.18', port: 18418 });
  const sha = await repo.head();
  const run = await repo.nx('run', 'infra-deploy:deploy', '--env=local', `--sha=${sha}`, '--excludeTaskDependencies');
  assert.equal(run.code, 1, run.out);
  assert.match(run.out, new RegExp(`release ${sha} is not published in .*, and this deploy packages nothing`));
  assert.match(run.out, new RegExp(`the build job of \\.forgejo/workflows/deploy\\.yml does, with npx nx run infra-deploy:release --env=local --sha=${sha}`));
  assert.doesNotMatch(run.out, /:(test|build|package|publish)\b/, 'no component task ran');
  for (const left of ['dist', '.veza/edges', '.veza/envs']) {
    await assert.rejects(fs.access(join(repo.dir, left)), `${left} was not created`);
  }
});
