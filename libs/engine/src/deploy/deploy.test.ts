import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readHistory, recordStart, writeActiveColor } from '../state/history';
import { deploy } from './deploy';
import type { DeployStep } from './plan';
import type { ProgressEvent } from './progress';
import { ENV, memoryWorld, refused, slot, stateOf, type MemoryWorld } from './testing/memory-ports';

/**
 * Every branch of the deploy's phases, on in-memory ports
 * (testing/memory-ports.ts): no process, no socket.
 */
const A = 'a1'.repeat(20);
const B = 'b2'.repeat(20);
const C = 'c3'.repeat(20);

test('a first deploy publishes, provisions, migrates, starts the inactive colour, switches and records it', async (t) => {
  const w = await memoryWorld(t);
  await w.stage(A);
  const o = w.options(A);
  const r = await deploy({ ...o, sha: A });

  assert.deepEqual(r, { outcome: 'success', env: ENV, sha: A, color: 'green', previousColor: 'blue', publicUrl: `http://${ENV}.localhost:18499`, dryRun: false });
  assert.deepEqual(w.calls, [
    'edge up', 'provision',
    `create ${slot('api', 'tools')}`, `exec ${slot('api', 'tools')}: node migrate.js --up`,
    // Side by side: both slots are created before either starts.
    `create ${slot('api', 'green')}`, `create ${slot('web', 'green')}`, `start ${slot('api', 'green')}`, `start ${slot('web', 'green')}`,
    'switch green',
  ]);
  assert.deepEqual([...w.registry.keys()].map((k) => k.replace(/@.*/, '')).sort(), ['veza/api', 'veza/veza-release', 'veza/web']);
  assert.equal(w.slots.get(slot('api', 'green'))!.spec.vars.DATABASE_URL, 'postgres://veza:s3cret@127.79.99.2:5432/veza');
  assert.deepEqual(w.data, { snapshots: [A], pruneKeeps: [[A]] });
  const s = await stateOf(w);
  assert.deepEqual({ ...s, metrics: undefined }, { active: 'green', history: ['a1 green active'], audit: ['deploy success'], locked: false, metrics: undefined });
  assert.equal(s.metrics?.sha, A);
  assert.match(o.lines.at(-1)!, /deploy mem: success .* release a1a1\S+ is live on green/);
});

test('the same release again, healthy, is a noop that only makes sure the edge runs', async (t) => {
  const w = await memoryWorld(t);
  await w.deployed(A);
  w.calls.length = 0;
  const r = await deploy({ ...w.options(A), sha: A });
  assert.equal(r.outcome, 'noop');
  assert.deepEqual([r.color, r.previousColor], ['green', 'green']);
  assert.deepEqual(w.calls, ['edge up']);
  assert.deepEqual((await stateOf(w)).audit, ['deploy noop', 'deploy success'], 'newest first');
});

test('the same release on a colour that no longer answers is deployed again, to the other colour', async (t) => {
  const w = await memoryWorld(t);
  await w.deployed(A);
  w.faults.health.add(slot('web', 'green'));
  const o = w.options(A);
  const r = await deploy({ ...o, sha: A });
  assert.deepEqual([r.outcome, r.color], ['success', 'blue']);
  assert.match(o.lines.join('\n'), /release a1\S+ is recorded on green, but veza-mem-web-green does not answer \/healthz: deploying it again/);
  assert.deepEqual((await stateOf(w)).history, ['a1 blue active', 'a1 green active']);
});

test('a failure in C (a slot never healthy) keeps the edge and the failed slots, and says how to read their logs', async (t) => {
  const w = await memoryWorld(t);
  await w.deployed(A);
  await w.stage(B);
  w.faults.health.add(slot('api', 'blue'));
  const e = await refused(deploy({ ...w.options(B), sha: B }), 'HEALTH_FAILED');
  assert.match(e.message, /^deploying b2\S+ to blue failed in its health checks: slot veza-mem-api-blue did not answer/);
  assert.match(e.hint, /^the edge was not switched and still serves green; the blue slots are kept for forensics; read the logs of veza-mem-api-blue: cat \/logs\/veza-mem-api-blue; remove them with nx run infra-deploy:cleanup --env=mem --color=blue$/);
  assert.deepEqual(w.edge.switches.map((s) => s.color), ['green'], 'only the first deploy switched');
  assert.equal(w.slots.get(slot('api', 'blue'))?.state, 'running');
  const s = await stateOf(w);
  assert.deepEqual([s.active, s.history, s.audit, s.locked], ['green', ['b2 blue failed', 'a1 green active'], ['deploy failure', 'deploy success'], false]);
  assert.ok(s.metrics?.lastFailureSeconds !== undefined);
  assert.equal(s.metrics?.sha, A, 'the metrics still name the release that serves');
});

test('a slot that will not start, or the edge that cannot reach a healthy slot, fails the deploy before the switch', async (t) => {
  for (const fault of ['start', 'edgeProbe'] as const) {
    const w = await memoryWorld(t);
    w.faults[fault].add(slot('web', 'green'));
    await w.stage(A);
    const e = await refused(deploy({ ...w.options(A), sha: A }), fault === 'start' ? 'SLOT_FAILED' : 'HEALTH_FAILED');
    assert.match(e.message, /failed in its health checks/);
    assert.match(e.hint, /still serves blue.*read the logs of veza-mem-web-green/);
    assert.deepEqual(w.edge.switches, [], fault);
    assert.deepEqual((await stateOf(w)).history, ['a1 green failed']);
  }
});

test('failed migrations stop the deploy before any colour changes', async (t) => {
  const w = await memoryWorld(t);
  w.faults.exec.add(slot('api', 'tools'));
  await w.stage(A);
  const e = await refused(deploy({ ...w.options(A), sha: A }), 'COMMAND_FAILED');
  assert.match(e.message, /migration 0002 failed/);
  assert.ok(!w.calls.some((c) => c.includes('-green')), 'no slot of either colour was touched');
  const s = await stateOf(w);
  assert.deepEqual([s.history, s.audit, s.locked], [[], ['deploy failure'], false]);
  assert.ok(s.metrics?.lastFailureSeconds !== undefined);
});

test('migrations that fail because the database lost its primary say so, and when to deploy again', async (t) => {
  const w = await memoryWorld(t);
  w.faults.exec.add(slot('api', 'tools'));
  w.data.unwritable = 'node1, the primary, does not answer';
  await w.stage(A);
  const e = await refused(deploy({ ...w.options(A), sha: A }), 'FORMATION_UNHEALTHY');
  assert.match(e.message, /migration 0002 failed.*; the database of mem is not writable: node1, the primary, does not answer$/);
  assert.match(e.hint, /^the edge was not touched and the live release still serves; deploy again: its data phase restarts what stopped and waits for a primary that answers/);
  assert.ok(!w.calls.some((c) => c.includes('-green')), 'no slot of either colour was touched');
});

test('a data phase that fails because the primary went away (a failover after the settle wait) says so, not just psql\'s message', async (t) => {
  const w = await memoryWorld(t);
  w.data.provisionFails = 'ensure role veza and database veza on the primary: psql: server closed the connection unexpectedly';
  w.data.unwritable = 'a failover is under way (no primary)';
  await w.stage(A);
  const e = await refused(deploy({ ...w.options(A), sha: A }), 'FORMATION_UNHEALTHY');
  assert.match(e.message, /server closed the connection unexpectedly; the database of mem is not writable: a failover is under way \(no primary\)$/);
  assert.match(e.hint, /^the edge was not touched and the live release still serves; deploy again/);
  assert.ok(!w.calls.some((c) => c.startsWith('create ')), 'no slot was created');
});

test('a data phase that fails with the database writable keeps its own error', async (t) => {
  const w = await memoryWorld(t);
  w.data.provisionFails = 'write pg_hba.conf: EACCES';
  await w.stage(A);
  const e = await refused(deploy({ ...w.options(A), sha: A }), 'COMMAND_FAILED');
  assert.match(e.message, /write pg_hba\.conf: EACCES$/);
});

test('a failure in E (the switch) leaves the edge on the colour it served', async (t) => {
  const w = await memoryWorld(t);
  await w.deployed(A);
  await w.stage(B);
  w.faults.switchTo.add('blue');
  const e = await refused(deploy({ ...w.options(B), sha: B }), 'SWITCH_FAILED');
  assert.match(e.message, /failed in the edge switch/);
  assert.match(e.hint, /^the edge still serves green \(a failed switch restores what it served\)/);
  assert.equal(w.edge.serves, 'green');
  assert.deepEqual((await stateOf(w)).history, ['b2 blue failed', 'a1 green active']);
});

test('a failure in F (verification) switches back to the colour that served', async (t) => {
  const w = await memoryWorld(t);
  await w.deployed(A);
  await w.stage(B);
  w.faults.verify.add('api');
  const e = await refused(deploy({ ...w.options(B), sha: B }), 'VERIFY_FAILED');
  assert.match(e.message, /failed in the verification through the public URL: api through \/api\/status does not report release b2/);
  assert.match(e.message, /does not report release (b2)+: it reports 0+; the edge sees mem_api: blue UP/, 'with what the edge sees of the colour it verified');
  assert.match(e.hint, /^the edge was switched back to green;/);
  assert.deepEqual(w.edge.switches.slice(1), [{ color: 'blue', force: false }, { color: 'green', force: true }]);
  const s = await stateOf(w);
  assert.deepEqual([s.active, s.history], ['green', ['b2 blue failed', 'a1 green active']]);
});

test('the post-switch gate switches back when the new colour fails its users, and keeps it when it does not', async (t) => {
  const w = await memoryWorld(t);
  await w.deployed(A);
  await w.stage(B);
  w.edge.answers = { api: { responses: 10, errors: 3 } };
  const e = await refused(deploy({ ...w.options(B), sha: B, bake: 5 }), 'BAKE_FAILED');
  assert.match(e.message, /failed in the post-switch gate: the blue colour failed 6 of 20 answers \(30\.0 %\) in [\d.]+ s — api 6\/20, above the gate's 5\.0 %/,
    'judged once minRequests (20) answers came back');
  assert.match(e.hint, /^the edge was switched back to green;/);
  assert.deepEqual((await stateOf(w)).history, ['b2 blue failed', 'a1 green active']);

  w.edge.answers = { api: { responses: 10, errors: 0 } };
  w.edge.counted = {};
  assert.equal((await deploy({ ...w.options(B), sha: B, bake: 1 })).outcome, 'success');
  assert.equal((await stateOf(w)).active, 'blue');
  await assert.rejects(deploy({ ...w.options(B), sha: B, bake: -1 }), /invalid --bake -1: .*from 0 to 3600/);
});

test('a failure in F whose switch back fails too says to check the edge', async (t) => {
  const w = await memoryWorld(t);
  await w.stage(A);
  w.faults.verify.add('web');
  w.faults.switchTo.add('blue');
  const e = await refused(deploy({ ...w.options(A), sha: A }), 'VERIFY_FAILED');
  assert.match(e.hint, /^switching back to blue failed too \(switching mem to blue failed: .*\): check the edge now;/);
  assert.equal(w.edge.serves, 'green');
});

async function interrupted(w: MemoryWorld): Promise<void> {
  // A deploy of B killed between its switch and its verification: the edge serves blue, history says `deploying`.
  await w.deployed(A);
  const [a] = await readHistory(w.ports.store, ENV);
  await recordStart(w.ports.store, ENV, { sha: B, color: 'blue', actor: 'ci', manifest: a!.manifest });
  await writeActiveColor(w.ports.store, ENV, 'blue');
  await w.stage(C);
}

test('the next deploy after one interrupted past its switch first switches back to the good colour', async (t) => {
  const w = await memoryWorld(t);
  await interrupted(w);
  w.calls.length = 0;
  const o = w.options(C);
  const r = await deploy({ ...o, sha: C });
  assert.deepEqual(w.calls.slice(0, 2), ['edge up', 'switch green']);
  assert.match(o.lines.join('\n'), /a deploy of b2\S+ was interrupted after switching to blue: switching back to green/);
  assert.deepEqual([r.outcome, r.color, r.previousColor], ['success', 'blue', 'green']);
  assert.deepEqual((await stateOf(w)).history, ['c3 blue active', 'b2 blue failed', 'a1 green active']);
});

test('after an interrupted deploy, a good colour that no longer answers is not switched back to', async (t) => {
  const w = await memoryWorld(t);
  await interrupted(w);
  w.faults.health.add(slot('api', 'green'));
  w.calls.length = 0;
  const o = w.options(C);
  await refused(deploy({ ...o, sha: C }), 'HEALTH_FAILED');
  assert.match(o.lines.join('\n'), /serves blue \(an interrupted deploy of b2\S+; green cannot take over: veza-mem-api-green does not answer \/api\/health\)/);
  assert.equal(w.calls[1], 'provision', 'no switch back');
  assert.deepEqual(w.edge.switches.map((x) => x.color), ['green'], 'only the first deploy switched');
});

test('a dry run on memory ports collects typed steps, prints them as plan events, and changes nothing', async (t) => {
  const w = await memoryWorld(t);
  await w.deployed(A);
  await w.stage(B);
  const before = { state: new Map(w.state), calls: [...w.calls], registry: [...w.registry.keys()] };
  const o = w.options(B);
  const r = await deploy({ ...o, sha: B, dryRun: true, json: true });
  assert.equal(r.dryRun, true);
  assert.deepEqual({ state: w.state, calls: w.calls, registry: [...w.registry.keys()] }, before);

  const plan = o.lines.map((l) => JSON.parse(l) as ProgressEvent).filter((e) => e.event === 'plan');
  const where = (s: DeployStep) => ('slot' in s ? ` ${s.slot}` : 'path' in s && s.kind !== 'cache-artifact' ? ` ${s.path}` : '');
  assert.deepEqual(plan.map((e) => `${e.id ?? '-'} ${e.step.kind}${where(e.step)}`), [
    'release publish', 'release publish', 'release publish',
    'fetch cache-artifact', 'fetch cache-artifact',
    'edge edge-up', 'edge write-file /edge/haproxy.cfg',
    'data data',
    `A slot-create ${slot('api', 'tools')}`, `A command ${slot('api', 'tools')}`,
    '- write-file /state/history-mem.json',
    `C slot-create ${slot('api', 'blue')}`, `C slot-create ${slot('web', 'blue')}`, `C slot-start ${slot('api', 'blue')}`, `C slot-start ${slot('web', 'blue')}`,
    `C wait-healthy ${slot('api', 'blue')}`, `C wait-healthy ${slot('web', 'blue')}`,
    `D probe-from-edge ${slot('api', 'blue')}`, `D probe-from-edge ${slot('web', 'blue')}`,
    'E switch', 'E write-file /edge/haproxy.cfg',
    'F verify /api/status', 'F verify /status.json',
    'record write-file /state/history-mem.json', 'record write-file /state/active-color-mem',
    'record write-file /state/metrics/veza-deploy-mem.json', 'record write-file /state/metrics/veza-deploy-mem.prom', 'record data',
    '- append-line /state/audit.log',
  ]);
  const text = o.lines.join('\n');
  assert.doesNotMatch(text, /s3cret/, 'neither the database URL nor the SQL on stdin is printed');
  assert.match(text, /"input":"\(not shown\)"/);
});
