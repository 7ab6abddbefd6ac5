import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { createDirStateStore } from '../ports/state-store';
import { tempDir } from '../registry/testing/fixtures';
import { acquireLock, envLock } from '../state/lock';
import { recordStart, readHistory } from '../state/history';
import { planningChecks, planningStore } from './dry-run';
import { createPlan, describeStep } from './plan';
import type { Checks, SlotTarget } from './probe';

const SHA = 'ab'.repeat(20);
const manifest = { owner: 'veza', package: 'veza-release', version: SHA, file: 'release.json', sha256: 'c'.repeat(64) };

test('a planning store shows every write as a diff, lets later steps read it, and leaves the real store alone', async (t) => {
  const dir = await tempDir(t);
  const real = createDirStateStore(dir);
  await real.write('active-color-prod', 'blue\n');
  const plan = createPlan();
  const store = planningStore(real, plan);

  await store.write('active-color-prod', 'green\n');
  assert.equal(await store.read('active-color-prod'), 'green\n');
  assert.equal(await real.read('active-color-prod'), 'blue\n');
  assert.deepEqual(plan.steps.map((s) => s.kind), ['write-file']);
  assert.match(describeStep(plan.steps[0]!)[0]!, /^write \S+\/active-color-prod:\n--- \S+\n\+\+\+ \S+ \(planned\)\n@@ [^\n]+\n-blue\n\+green$/);

  // Code that builds on earlier writes (recordStart then readHistory) sees them.
  await recordStart(store, 'prod', { sha: SHA, color: 'green', actor: 'ci', manifest });
  assert.equal((await readHistory(store, 'prod'))[0]?.outcome, 'deploying');
  assert.equal(await real.read('history-prod.json'), undefined);

  await store.append('audit.log', '{"a":1}');
  assert.equal(await store.read('audit.log'), '{"a":1}\n');
  const lock = await acquireLock(store, envLock('prod'), { action: 'deploy', user: 'ci' });
  assert.equal(await store.createExclusive('locks/prod.lock', 'x'), false, 'the planned lock exists for later steps');
  await lock.release();
  assert.equal(await store.read('locks/prod.lock'), undefined);
  assert.deepEqual(plan.steps.map((s) => ('path' in s ? `${s.kind} ${s.path.slice(dir.length + 1)}` : s.kind)), [
    'write-file active-color-prod', 'write-file history-prod.json', 'append-line audit.log', 'create-file locks/prod.lock', 'remove-file locks/prod.lock',
  ]);
  assert.deepEqual((await fs.readdir(dir)).sort(), ['active-color-prod']);
});

test('a planned phase C lists each in-slot probe and where it runs, and probes nothing', async () => {
  const untouched = new Proxy({}, { get: (_, k) => () => assert.fail(`the real checks were called: ${String(k)}`) }) as Checks;
  const target: SlotTarget = { component: 'veza-api', slot: 'veza-prod-api-green', host: 'veza-prod-api-green.lxd', port: 8080, path: '/api/v1/health' };
  const plan = createPlan();
  await planningChecks(untouched, plan, 'incus', 'veza-haproxy').waitHealthy(target, { timeoutMs: 60_000, intervalMs: 250 });
  await planningChecks(untouched, plan, 'local', 'local-edge').waitHealthy({ ...target, host: '127.77.1.11' }, { timeoutMs: 60_000, intervalMs: 250 });
  assert.deepEqual(plan.steps[0], { kind: 'wait-healthy', slot: 'veza-prod-api-green', port: 8080, path: '/api/v1/health', timeoutMs: 60_000, probedFrom: 'inside its container (incus exec)' });
  assert.deepEqual(plan.steps.flatMap(describeStep), [
    'wait up to 60000 ms for veza-prod-api-green to answer 2xx on port 8080 /api/v1/health, probed inside its container (incus exec)',
    'wait up to 60000 ms for veza-prod-api-green to answer 2xx on port 8080 /api/v1/health, probed at 127.77.1.11',
  ]);
});
