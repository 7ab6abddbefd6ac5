import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ExecutorContext } from '@nx/devkit';
import { packagesInRun } from './executor';

test('a deploy run without package tasks (nx run … --excludeTaskDependencies) deploys only published releases', () => {
  const graph = (...targets: string[]) => ({ taskGraph: { roots: [], dependencies: {}, tasks: Object.fromEntries(targets.map((target, i) => [`t${i}`, { target: { project: 'p', target } }])) } }) as unknown as Pick<ExecutorContext, 'taskGraph'>;
  assert.equal(packagesInRun(graph('deploy')), false);
  assert.equal(packagesInRun(graph('deploy', 'validate', 'package', 'build')), true);
});
