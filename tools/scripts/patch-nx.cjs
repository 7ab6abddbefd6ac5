#!/usr/bin/env node
// Nx 22.7 reports a task it skipped (because a dependency failed) to no
// lifecycle, so `nx run` finds the skipped task without a result, takes the
// run for an interrupted one and exits 130 (SIGINT's code) instead of 1: CI
// then reads a refused deploy as a cancelled job. The task runner itself
// returns every task's status, skipped ones included, and Nx's own exit-code
// rule already counts "skipped" as a failure; this hands those statuses to
// that rule. Idempotent; run by `npm ci` (postinstall) and setup.sh.
'use strict';
const { readFileSync, writeFileSync, renameSync } = require('node:fs');

const file = require.resolve('nx/src/tasks-runner/run-command');
const original = '    await promiseOrObservable;\n    return taskResultsLifecycle.getTaskResults();\n';
const patched = [
  '    const runnerStatuses = await promiseOrObservable; // veza: tools/scripts/patch-nx.cjs',
  '    const results = taskResultsLifecycle.getTaskResults();',
  "    for (const [id, status] of Object.entries(runnerStatuses ?? {})) if (status === 'skipped' && !results[id] && taskGraph.tasks[id]) results[id] = { task: taskGraph.tasks[id], status, code: 1 };",
  '    return results;',
  '',
].join('\n');

const text = readFileSync(file, 'utf8');
if (text.includes(patched)) process.exit(0);
const at = text.indexOf(original);
if (at < 0 || text.indexOf(original, at + 1) >= 0) {
  const version = require('nx/package.json').version;
  console.error(`[patch-nx] nx ${version}: the task-results lines were not found exactly once in ${file}, so a failed dependency may still exit 130 — compare tools/scripts/patch-nx.cjs with this Nx version`);
  process.exit(0);
}
const tmp = `${file}.veza-tmp`;
writeFileSync(tmp, text.slice(0, at) + patched + text.slice(at + original.length));
renameSync(tmp, file);
