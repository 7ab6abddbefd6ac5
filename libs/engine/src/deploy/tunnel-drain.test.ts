import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseEdgeDefinition } from '../config/edge';
import { drainRetiredColor, type DrainContext } from './tunnel-drain';

/** A context whose edge reports the given session counts, one per read (the last one repeated). */
function context(counts: number[], tunnelDrainMs: number, plan = false): DrainContext & { reads: number } {
  const edge = parseEdgeDefinition('infra/edges/e.yaml', `name: e\nhost: incus\nruntime: { socketDir: /run/haproxy }\ntunnelDrainMs: ${tunnelDrainMs}\n`);
  const ctx = {
    reads: 0,
    workspace: { edge: () => edge },
    env: { edge: 'e' },
    plan: plan ? {} : undefined,
    ports: { edge: { openSessions: async () => counts[Math.min(ctx.reads++, counts.length - 1)]! } },
  };
  return ctx as unknown as DrainContext & { reads: number };
}

const steps = () => {
  const lines: string[] = [];
  return { lines, p: { step: (l: string) => lines.push(l), note: () => undefined } };
};

test('nothing open: no wait, nothing said', async () => {
  const { lines, p } = steps();
  const ctx = context([0], 60_000);
  assert.deepEqual(await drainRetiredColor(ctx, 'blue', p), { open: 0, left: 0, waitedMs: 0 });
  assert.equal(ctx.reads, 1);
  assert.deepEqual(lines, []);
});

test('sessions that close end the wait before the bound', async () => {
  const { lines, p } = steps();
  const f = await drainRetiredColor(context([3, 2, 0], 60_000), 'green', p);
  assert.equal(f.open, 3);
  assert.equal(f.left, 0);
  assert.match(lines[0]!, /^3 session\(s\) open on green \(WebSockets the switch left there\): waiting up to 60\.0 s for them to close$/);
  assert.match(lines[1]!, /^every session on green closed after \d+\.\d s$/);
});

test('at the bound the sessions still open are left to the slots\' shutdown', async () => {
  const { lines, p } = steps();
  let clock = 0;
  // Each read of the clock moves it on by 400 ms: the 1 s bound is reached after a few polls, whatever the machine's speed.
  const f = await drainRetiredColor(context([2], 1_000), 'blue', p, () => (clock += 400));
  assert.equal(f.left, 2);
  assert.match(lines[1]!, /^2 session\(s\) still open on blue after \d+\.\d s: stopping its slots closes them, and their clients reconnect to the live colour$/);
});

test('a dry-run says what it would wait for and does not wait', async () => {
  const { lines, p } = steps();
  const ctx = context([4], 60_000, true);
  assert.deepEqual(await drainRetiredColor(ctx, 'blue', p), { open: 4, left: 4, waitedMs: 0 });
  assert.equal(ctx.reads, 1);
  assert.deepEqual(lines, ['4 session(s) open on blue: the slots would stop once they close, after 60.0 s at most']);
});
