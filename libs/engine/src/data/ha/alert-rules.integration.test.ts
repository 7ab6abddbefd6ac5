import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readFormation } from './formation';
import { renderBackupMetrics, renderDrillMetrics, renderFormationMetrics } from './metrics';

/** The data tier's alert rules, checked and unit-tested by Debian's promtool (package prometheus). */
const DIR = join(__dirname, '../../../../../infra/prometheus');

test('promtool accepts the rules and their unit tests pass', () => {
  assert.match(execFileSync('promtool', ['check', 'rules', 'veza-data.rules.yml'], { cwd: DIR, encoding: 'utf8' }), /SUCCESS: 5 rules found/);
  assert.match(execFileSync('promtool', ['test', 'rules', 'veza-data.rules.test.yml'], { cwd: DIR, encoding: 'utf8' }), /SUCCESS/);
});

test('every metric the rules read is one the drill, backup or status writes', () => {
  const at = new Date(0);
  const written = [
    renderDrillMetrics({ env: 'e', success: true, finishedAt: at, durationSeconds: 1, restoredRows: 1 }),
    renderBackupMetrics('e', [{ type: 'full', stoppedAt: at }]),
    renderFormationMetrics('e', readFormation([])),
  ].join('\n');
  const rules = readFileSync(join(DIR, 'veza-data.rules.yml'), 'utf8');
  const read = [...rules.matchAll(/\bveza_[a-z_]+/g)].map((m) => m[0]).filter((n) => !['veza_backup', 'veza_pg_formation', 'veza_minio'].includes(n));
  assert.ok(read.length >= 3);
  for (const name of read) assert.match(written, new RegExp(`^# TYPE ${name} gauge$`, 'm'), `${name} is written by a metrics renderer`);
});
