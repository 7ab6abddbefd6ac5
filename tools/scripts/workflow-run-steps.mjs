#!/usr/bin/env node
// Writes every run: step of the generated workflow to <dir>/<job>-<n>.bash,
// so lint.sh can hand them to shellcheck (the workflow runs them with bash).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

const [dir] = process.argv.slice(2);
const workflow = parse(readFileSync(new URL('../../.forgejo/workflows/deploy.yml', import.meta.url), 'utf8'));
for (const [job, { steps }] of Object.entries(workflow.jobs)) {
  steps.forEach((step, i) => {
    if (step.run) writeFileSync(join(dir, `${job}-${i}.bash`), step.run);
  });
}
