import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VezaError } from '../log/errors';
import { createMemoryLogger } from '../log/logger';
import type { ProcessRunner, RunResult } from '../ports/process';
import { applyPlan, formatPlan, type DataPlan, type PlanStep } from './plan';

/** A runner whose runs fail `failures` times ("server closed the connection"), then succeed; it counts them. */
function flaky(failures: number): ProcessRunner & { runs: number } {
  const r = {
    runs: 0,
    dryRun: false,
    async run(): Promise<RunResult> {
      r.runs++;
      if (r.runs <= failures) throw new VezaError(`psql failed (exit 2): server closed the connection unexpectedly (run ${r.runs})`, 'fix the cause above and re-run', 'COMMAND_FAILED');
      return { exitCode: 0, stdout: '', stderr: '' } as RunResult;
    },
  };
  return r;
}

function rolePlan(settles: string[], again = true): DataPlan {
  const step: PlanStep = {
    kind: 'run', title: 'ensure role veza', command: { argv: ['psql'], input: 'SQL' },
    ...(again ? { again: { tries: 3, settle: { what: 'the formation settled', timeoutMs: 5_000, intervalMs: 1, check: async () => (settles.push('settle'), true) } } } : {}),
  };
  return { steps: [step], notes: [], summary: 'done' };
}

test('an idempotent step whose server went away under it waits for the formation to settle and runs again, within its tries', async () => {
  const settles: string[] = [];
  const twice = flaky(2);
  await applyPlan(rolePlan(settles), twice, createMemoryLogger());
  assert.deepEqual([twice.runs, settles.length], [3, 2], 'failed twice, settled before each retry, third run succeeded');

  const always = flaky(5);
  await assert.rejects(applyPlan(rolePlan([]), always, createMemoryLogger()), (e: VezaError) => /\(run 3\)$/.test(e.message));
  assert.equal(always.runs, 3, 'bounded: three tries, the last failure reported');

  const plain = flaky(1);
  await assert.rejects(applyPlan(rolePlan([], false), plain, createMemoryLogger()), /run 1/);
  assert.equal(plain.runs, 1, 'a step without `again` is not repeated');
});

test('the dry-run shows that a step runs again, and after what', () => {
  assert.deepEqual(formatPlan(rolePlan([])).slice(0, 3), ['# ensure role veza', '$ psql < (SQL on stdin, not shown)', '  (if it fails: wait until the formation settled, then again; 3 tries in all)']);
});
