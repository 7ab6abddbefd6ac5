import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cleanup } from './cleanup';
import { memoryWorld, plannedKinds, refused, slot, stateOf } from './testing/memory-ports';

/** Cleanup on in-memory ports (testing/memory-ports.ts): never the colour the edge serves. */
const A = 'a1'.repeat(20);
const B = 'b2'.repeat(20);

test('cleanup refuses the active colour and removes nothing', async (t) => {
  const w = await memoryWorld(t);
  await w.deployed(A);
  const slots = [...w.slots.keys()];
  const e = await refused(cleanup({ ...w.options(), color: 'green' }), 'CLEANUP_REFUSED');
  assert.equal(e.message, 'refusing to clean up green: it is the colour mem serves');
  assert.match(e.hint, /^clean up blue instead; to retire green, deploy or fast-rollback first/);
  assert.deepEqual([...w.slots.keys()], slots);
  const s = await stateOf(w);
  assert.deepEqual([s.audit[0], s.locked], ['cleanup failure', false]);
});

test("cleanup removes the inactive colour's slots, and only those", async (t) => {
  const w = await memoryWorld(t);
  for (const sha of [A, B]) {
    await w.deployed(sha);
  }
  const r = await cleanup({ ...w.options(), color: 'green' });
  assert.deepEqual(r, { env: 'mem', color: 'green', removed: [slot('api', 'green'), slot('web', 'green')] });
  assert.deepEqual([...w.slots.keys()].sort(), [slot('api', 'blue'), slot('api', 'tools'), slot('web', 'blue')]);
  assert.deepEqual((await stateOf(w)).audit[0], 'cleanup success');
});

test('cleanup of a colour with no slots is a noop; without --color it says which to give', async (t) => {
  const w = await memoryWorld(t);
  await w.deployed(A);
  const o = w.options();
  assert.deepEqual(await cleanup({ ...o, color: 'blue' }), { env: 'mem', color: 'blue', removed: [] });
  assert.match(o.lines.at(-1)!, /: noop .* — mem has no blue slots$/);
  const e = await refused(cleanup(w.options()), 'INVALID_INPUT');
  assert.match(e.hint, /--color=blue or --color=green \(never the active one\)/);
});

test('a cleanup dry run plans one slot-delete per slot of the colour, and removes nothing', async (t) => {
  const w = await memoryWorld(t);
  for (const sha of [A, B]) await w.deployed(sha);
  const slots = [...w.slots.keys()];
  const o = w.options();
  await cleanup({ ...o, color: 'green', dryRun: true, json: true });
  assert.deepEqual([...w.slots.keys()], slots);
  assert.deepEqual(plannedKinds(o.lines), ['cleanup slot-delete', 'cleanup slot-delete', '- append-line']);
});
