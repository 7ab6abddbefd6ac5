import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rollback } from './rollback';
import { ENV, memoryWorld, plannedKinds, refused, slot, stateOf, type MemoryWorld } from './testing/memory-ports';

/** Fast and full rollback on in-memory ports (testing/memory-ports.ts), refusals included. */
const A = 'a1'.repeat(20);
const B = 'b2'.repeat(20);

/** A live on green, then B live on blue: what a rollback goes back from. */
async function twoReleases(t: { after(fn: () => Promise<void>): void }): Promise<MemoryWorld> {
  const w = await memoryWorld(t);
  for (const sha of [A, B]) {
    await w.deployed(sha);
  }
  w.calls.length = 0;
  return w;
}

test('fast: flips the edge to the other colour, which still runs the previous release, and records the rollback', async (t) => {
  const w = await twoReleases(t);
  const r = await rollback({ ...w.options(), mode: 'fast' });
  assert.deepEqual([r.outcome, r.sha, r.color, r.previousColor], ['success', A, 'green', 'blue']);
  assert.deepEqual(w.calls, ['edge up', 'switch green'], 'no slot is touched');
  const s = await stateOf(w);
  assert.deepEqual([s.active, s.history, s.audit[0], s.locked], ['green', ['a1 green active', 'b2 blue rolled-back', 'a1 green active'], 'rollback success', false]);
  assert.equal(s.metrics?.sha, A);
});

test('fast: refused, pointing at --mode=full, when the other colour holds nothing good', async (t) => {
  const w = await memoryWorld(t);
  await w.deployed(A);
  const e = await refused(rollback({ ...w.options(), mode: 'fast' }), 'ROLLBACK_REFUSED');
  assert.equal(e.message, 'cannot fast-rollback mem to blue: blue holds no recorded release');
  assert.match(e.hint, /deploy a known-good sha with nx run infra-deploy:deploy --env=mem --sha=<sha>/);
  assert.deepEqual(w.edge.switches.map((s) => s.color), ['green']);
  assert.equal((await stateOf(w)).locked, false);
});

test('fast: refused when the slots of the colour it would flip to are gone or unhealthy', async (t) => {
  const w = await twoReleases(t);
  w.slots.delete(slot('web', 'green'));
  w.faults.health.add(slot('api', 'green'));
  const e = await refused(rollback({ ...w.options(), mode: 'fast' }), 'ROLLBACK_REFUSED');
  assert.equal(e.message, `cannot fast-rollback ${ENV} to green: veza-mem-api-green does not answer /api/health; veza-mem-web-green does not exist`);
  assert.equal(e.hint, `use nx run infra-deploy:rollback --env=${ENV} --mode=full to redeploy ${A} from its manifest`);
  assert.deepEqual(w.calls, []);
  const s = await stateOf(w);
  assert.deepEqual([s.active, s.audit[0]], ['blue', 'rollback failure']);
});

test('fast: a failed verification switches back and records the failure', async (t) => {
  const w = await twoReleases(t);
  w.faults.verify.add('web');
  const e = await refused(rollback({ ...w.options(), mode: 'fast' }), 'ROLLBACK_FAILED');
  assert.match(e.message, /^fast rollback of mem to green failed verification: web through \/status\.json does not report release a1\S+: it reports 0{40}.*; switched back to blue$/);
  assert.equal(e.hint, `use nx run infra-deploy:rollback --env=${ENV} --mode=full`);
  assert.deepEqual(w.edge.switches.slice(-2), [{ color: 'green', force: false }, { color: 'blue', force: true }]);
  const s = await stateOf(w);
  assert.deepEqual([s.active, s.history[0]], ['blue', 'a1 green failed']);
  assert.ok(s.metrics?.lastFailureSeconds !== undefined);
});

test('full: redeploys the previous good release from its published manifest onto the inactive colour', async (t) => {
  const w = await twoReleases(t);
  w.slots.clear();
  const r = await rollback({ ...w.options(), mode: 'full' });
  assert.deepEqual([r.outcome, r.sha, r.color, r.previousColor], ['success', A, 'green', 'blue']);
  assert.ok(w.calls.includes(`create ${slot('api', 'green')}`) && w.calls.at(-1) === 'switch green');
  assert.equal(w.slots.get(slot('web', 'green'))?.spec.release, A);
  const s = await stateOf(w);
  assert.deepEqual([s.active, s.history.slice(0, 2), s.audit[0]], ['green', ['a1 green active', 'b2 blue rolled-back'], 'rollback success']);
});

test('full: refused when the history holds no earlier good release, or not the --sha asked for', async (t) => {
  const w = await memoryWorld(t);
  await w.deployed(A);
  const none = await refused(rollback({ ...w.options(), mode: 'full' }), 'ROLLBACK_REFUSED');
  assert.equal(none.message, 'mem has no earlier good release in its history');
  assert.match(none.hint, /deploy a known-good sha: nx run infra-deploy:deploy --env=mem --sha=<sha>/);
  for (const mode of ['full', 'fast']) {
    const unknown = await refused(rollback({ ...w.options(), mode, sha: B }), 'ROLLBACK_REFUSED');
    assert.equal(unknown.message, `release ${B} was never deployed to mem (not in its history of the last 5 deploys)`);
    assert.match(unknown.hint, new RegExp(`deploy ${B} as new: nx run infra-deploy:deploy --env=mem --sha=${B}`));
  }
  assert.deepEqual((await stateOf(w)).audit, ['deploy success'], 'a refused rollback takes no lock and audits nothing');
});

test('--sha of a release whose deploy failed is refused in either mode, before the lock', async (t) => {
  const w = await twoReleases(t);
  const C = 'c3'.repeat(20);
  w.faults.health.add(slot('api', 'green'));
  await refused(w.deployed(C), 'HEALTH_FAILED');
  const state = new Map(w.state);
  for (const mode of ['full', 'fast']) {
    const e = await refused(rollback({ ...w.options(), mode, sha: C }), 'ROLLBACK_REFUSED');
    assert.match(e.message, new RegExp(`^release ${C} never went live on mem: its deploy failed \\(.+\\), so it is no rollback target$`));
  }
  assert.deepEqual(w.state, state, 'nothing changed: no lock, no audit line');
});

test('fast with --sha flips only to the release the other colour holds', async (t) => {
  const w = await twoReleases(t);
  const wrong = await refused(rollback({ ...w.options(), mode: 'fast', sha: B }), 'ROLLBACK_REFUSED');
  assert.equal(wrong.message, `cannot fast-rollback mem to ${B}: the other colour, green, holds ${A}`);
  assert.equal(wrong.hint, `redeploy ${B} from its manifest: nx run infra-deploy:rollback --env=mem --mode=full --sha=${B}`);
  const r = await rollback({ ...w.options(), mode: 'fast', sha: A });
  assert.deepEqual([r.sha, r.color], [A, 'green']);
});

test('bad usage is refused before anything is read', async (t) => {
  const w = await memoryWorld(t);
  const mode = await refused(rollback({ ...w.options(), mode: 'slow' }), 'INVALID_INPUT');
  assert.match(mode.hint, /--mode=fast .* or --mode=full/);
  await refused(rollback({ ...w.options(), mode: 'fast', sha: 'HEAD' }), 'INVALID_INPUT');
  assert.deepEqual(w.state.size, 0);
});

test('a fast rollback dry run plans the switch, the verification and the records, and changes nothing', async (t) => {
  const w = await twoReleases(t);
  const state = new Map(w.state);
  const o = w.options();
  const r = await rollback({ ...o, mode: 'fast', dryRun: true, json: true });
  assert.deepEqual([r.dryRun, r.color], [true, 'green']);
  assert.deepEqual([w.state, w.calls], [state, []]);
  assert.deepEqual(plannedKinds(o.lines), [
    'edge edge-up', 'edge write-file', 'E switch', 'E write-file', 'F verify', 'F verify',
    'record write-file', 'record write-file', 'record write-file', 'record write-file', '- append-line',
  ]);
});
