import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ProjectGraph } from '@nx/devkit';
import { artifactInputPaths } from './inputs';
import { buildCommands } from './executor';

const graph = {
  nodes: {
    app: { name: 'app', type: 'app', data: { root: 'apps/app', namedInputs: { default: ['{projectRoot}/**/*', { runtime: 'go version' }] }, targets: {
      test: { inputs: ['default', '{workspaceRoot}/test-only.ts'] },
      build: { inputs: ['production', '^production', 'tooling'] },
      package: { inputs: [{ dependentTasksOutputFiles: '**/*' }, { fileset: '{workspaceRoot}/pack/{projectName}.ts' }] },
    } } },
    lib: { name: 'lib', type: 'lib', data: { root: 'libs/lib', targets: {} } },
  },
  dependencies: { app: [{ source: 'app', target: 'lib', type: 'static' }, { source: 'app', target: 'npm:zod', type: 'static' }], lib: [] },
} as unknown as ProjectGraph;
const nxJson = { namedInputs: { production: ['default', '!{projectRoot}/**/*.test.ts'], tooling: ['{workspaceRoot}/tools/*.ts', { env: 'CI' }] } };

test('a component\'s artifact inputs are the file inputs of its build and package, as git pathspecs', () => {
  assert.deepEqual(artifactInputPaths(graph, nxJson, 'app'), [
    ':(glob)apps/app/**/*', // its own default: the exclusion of tests is dropped, so a test change rebuilds too
    ':(glob)libs/lib/**/*', // ^production: the dependency's default
    ':(glob)pack/app.ts',
    ':(glob)tools/*.ts',
  ], 'the test target, the toolchain, env vars and npm nodes are no file inputs of the artifact');
});

test('the release builds with no secret in the package run, and publishes with them', () => {
  const [pack, publish] = buildCommands(['veza-api', 'veza-web'], 'staging', ['TOKEN'], { TOKEN: 's3cret', PATH: '/bin' });
  assert.deepEqual(pack, { argv: ['npx', 'nx', 'run-many', '-t', 'package', '--projects=veza-api,veza-web'], env: { PATH: '/bin' } });
  assert.deepEqual(publish, { argv: ['npx', 'nx', 'run-many', '-t', 'publish', '--projects=veza-api,veza-web', '--env=staging'], env: { TOKEN: 's3cret', PATH: '/bin' } });
});
