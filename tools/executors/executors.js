'use strict';
/**
 * What executors.json's implementations point at: `./executors.js#<name>` is
 * src/executors/<name>.ts, bundled to JS so Nx loads no TypeScript
 * transpiler in the task process (see tools/scripts/fresh-bundle.cjs).
 * Requiring this file rebuilds the bundle if a source changed; each executor
 * is loaded only when Nx asks for it, from V8's code cache: a task process
 * loads one bundle of up to 3 MB to run one executor once.
 */
const { freshBundle } = require('../scripts/fresh-bundle.cjs');
const { executors } = require('./executors.json');

const names = Object.values(executors)
  .flatMap((e) => [e.implementation, e.batchImplementation])
  .filter(Boolean)
  .map((implementation) => implementation.split('#')[1]);
const bundle = freshBundle(__dirname, Object.fromEntries(names.map((name) => [name, `./src/executors/${name}.ts`])));
for (const name of names) {
  Object.defineProperty(exports, name, { enumerable: true, get: () => bundle.loadCompiledUntilExit(name).default });
}
