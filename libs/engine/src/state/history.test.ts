import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDirStateStore, type StateStore } from '../ports/state-store';
import { isVezaError } from '../log/errors';
import type { Color } from '../config/names';
import {
  activeColorKey, currentRelease, fastRollbackTarget, heldBy, historyKey, previousGood, readActiveColor, readHistory,
  recordFailure, recordStart, recordSuccess, writeActiveColor,
} from './history';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const C = 'c'.repeat(40);

async function tempStore(t: TestContext): Promise<{ dir: string; store: StateStore }> {
  const dir = await mkdtemp(join(tmpdir(), 'veza-history-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return { dir, store: createDirStateStore(dir) };
}

let clock = Date.parse('2026-04-29T12:00:00Z');
function rec(sha: string, color: Color) {
  clock += 60_000;
  return { sha, color, actor: 'alice@r720', time: new Date(clock), manifest: { owner: 'talas', package: 'veza-release', version: sha, file: 'release.json', sha256: '9'.repeat(64) } };
}

test('no state yet: blue is active, nothing is current, nothing to roll back to', async (t) => {
  const { store } = await tempStore(t);
  assert.equal(await readActiveColor(store, 'prod'), 'blue');
  assert.deepEqual(await readHistory(store, 'prod'), []);
  assert.deepEqual(await currentRelease(store, 'prod'), { color: 'blue', entry: undefined });
  assert.equal(await previousGood(store, 'prod'), undefined);
  await assert.rejects(fastRollbackTarget(store, 'prod'), /cannot fast-rollback prod to green: green holds no recorded release/);
});

test('a success records the release newest first and makes its colour active, in one-line and JSON files', async (t) => {
  const { dir, store } = await tempStore(t);
  await recordSuccess(store, 'prod', rec(A, 'green'));
  await recordSuccess(store, 'prod', rec(B, 'blue'));
  assert.equal(await readFile(join(dir, activeColorKey('prod')), 'utf8'), 'blue\n');
  const h = await readHistory(store, 'prod');
  assert.deepEqual(h.map((e) => [e.sha, e.color, e.outcome]), [[B, 'blue', 'active'], [A, 'green', 'active']]);
  assert.equal(h[0]!.actor, 'alice@r720');
  assert.deepEqual(h[0]!.manifest, { owner: 'talas', package: 'veza-release', version: B, file: 'release.json', sha256: '9'.repeat(64) });
  assert.equal((await currentRelease(store, 'prod')).entry?.sha, B);
  assert.equal((await previousGood(store, 'prod'))?.sha, A);
  const target = await fastRollbackTarget(store, 'prod');
  assert.deepEqual([target.from, target.to, target.entry.sha], ['blue', 'green', A]);
  const file = JSON.parse(await readFile(join(dir, historyKey('prod')), 'utf8'));
  assert.equal(file.schema, 1);
  assert.equal(file.env, 'prod');
});

test('a failed release on a colour makes fast rollback refuse it and point at --mode=full', async (t) => {
  const { store } = await tempStore(t);
  await recordSuccess(store, 'prod', rec(A, 'green'));
  await recordSuccess(store, 'prod', rec(B, 'blue'));
  await recordFailure(store, 'prod', rec(C, 'green'));
  assert.equal(await readActiveColor(store, 'prod'), 'blue', 'a failure never moves the active colour');
  assert.equal((await currentRelease(store, 'prod')).entry?.sha, B);
  const err = await fastRollbackTarget(store, 'prod').then(() => assert.fail('expected a refusal'), (e: unknown) => e);
  assert.ok(isVezaError(err));
  assert.match(err.message, new RegExp(`green holds release ${C}, whose deploy failed at`));
  assert.match(err.hint, new RegExp(`--mode=full to redeploy the previous good release ${A}`));
  assert.equal((await previousGood(store, 'prod'))?.sha, A);
});

test('a rollback marks the release it replaces as rolled-back, and the next rollback skips it', async (t) => {
  const { store } = await tempStore(t);
  await recordSuccess(store, 'prod', rec(A, 'green'));
  await recordSuccess(store, 'prod', rec(B, 'blue'));
  // Fast rollback: back to green, which holds A.
  const target = await fastRollbackTarget(store, 'prod');
  await recordSuccess(store, 'prod', { ...rec(target.entry.sha, target.to), manifest: target.entry.manifest }, { rollback: true });
  const h = await readHistory(store, 'prod');
  assert.deepEqual(h.map((e) => [e.sha, e.color, e.outcome]), [[A, 'green', 'active'], [B, 'blue', 'rolled-back'], [A, 'green', 'active']]);
  assert.equal(await readActiveColor(store, 'prod'), 'green');
  await assert.rejects(fastRollbackTarget(store, 'prod'), new RegExp(`blue holds release ${B}, which was rolled back`));
  assert.equal(await previousGood(store, 'prod'), undefined, 'neither the rolled-back B nor the current A qualifies');
});

test('a full rollback redeploys the previous good release and retires the bad one', async (t) => {
  const { store } = await tempStore(t);
  await recordSuccess(store, 'prod', rec(A, 'blue'));
  await recordSuccess(store, 'prod', rec(B, 'green'));
  await recordSuccess(store, 'prod', rec(C, 'blue'));
  const good = (await previousGood(store, 'prod'))!;
  assert.equal(good.sha, B);
  await recordSuccess(store, 'prod', { ...rec(good.sha, 'green'), manifest: good.manifest }, { rollback: true });
  const h = await readHistory(store, 'prod');
  assert.deepEqual(h.map((e) => e.outcome), ['active', 'rolled-back', 'active', 'active']);
  assert.equal((await currentRelease(store, 'prod')).entry?.sha, B);
  assert.equal((await previousGood(store, 'prod'))?.sha, A);
});

test('history is capped at the retention, newest kept', async (t) => {
  const { store } = await tempStore(t);
  const shas = ['1', '2', '3', '4', '5', '6', '7'].map((d) => d.repeat(40));
  for (const [i, sha] of shas.entries()) await recordSuccess(store, 'prod', rec(sha, i % 2 ? 'blue' : 'green'));
  assert.deepEqual((await readHistory(store, 'prod')).map((e) => e.sha), shas.slice(2).reverse());
  await recordFailure(store, 'prod', rec(A, 'green'), { retention: 2 });
  assert.deepEqual((await readHistory(store, 'prod')).map((e) => e.sha), [A, shas[6]]);
  await assert.rejects(recordFailure(store, 'prod', rec(A, 'green'), { retention: 0 }), /invalid history retention/);
});

test('staging and prod keep separate files that never collide', async (t) => {
  const { dir, store } = await tempStore(t);
  await recordSuccess(store, 'staging', rec(A, 'green'));
  await recordSuccess(store, 'prod', rec(B, 'blue'));
  await recordFailure(store, 'staging', rec(C, 'blue'));
  assert.equal(await readActiveColor(store, 'staging'), 'green');
  assert.equal(await readActiveColor(store, 'prod'), 'blue');
  assert.deepEqual((await readHistory(store, 'prod')).map((e) => e.sha), [B]);
  assert.deepEqual((await readHistory(store, 'staging')).map((e) => e.sha), [C, A]);
  assert.deepEqual((await readdir(dir)).sort(), ['active-color-prod', 'active-color-staging', 'history-prod.json', 'history-staging.json']);
});

test('a deploy in progress replaces its own marker when it ends', async (t) => {
  const { store } = await tempStore(t);
  await recordSuccess(store, 'prod', rec(A, 'green'));
  await recordStart(store, 'prod', rec(B, 'blue'));
  assert.equal(heldBy(await readHistory(store, 'prod'), 'blue')?.outcome, 'deploying');
  await recordSuccess(store, 'prod', rec(B, 'blue'));
  await recordStart(store, 'prod', rec(C, 'green'));
  await recordFailure(store, 'prod', rec(C, 'green'));
  assert.deepEqual((await readHistory(store, 'prod')).map((e) => [e.sha, e.outcome]), [[C, 'failed'], [B, 'active'], [A, 'active']]);
});

test('a deploy killed half-way leaves its colour marked unverified, never as the release it held before', async (t) => {
  const { store } = await tempStore(t);
  await recordSuccess(store, 'prod', rec(A, 'green'));
  await recordSuccess(store, 'prod', rec(B, 'blue'));
  // Killed after recreating green's slots with C, before the switch: green no longer holds A.
  await recordStart(store, 'prod', rec(C, 'green'));
  await assert.rejects(fastRollbackTarget(store, 'prod'), new RegExp(`green holds release ${C}, whose deploy started at .* and never finished`));
  assert.equal((await currentRelease(store, 'prod')).entry?.sha, B);
  // Killed right after the edge switch wrote the active colour: blue's release is unknown, not A.
  await writeActiveColor(store, 'prod', 'green');
  assert.deepEqual(await currentRelease(store, 'prod'), { color: 'green', entry: undefined });
  assert.equal((await fastRollbackTarget(store, 'prod')).entry.sha, B);
});

test('bad input and damaged files give one clear error', async (t) => {
  const { store } = await tempStore(t);
  await assert.rejects(recordSuccess(store, 'prod', rec('main', 'blue')), /invalid version/);
  await assert.rejects(recordSuccess(store, 'prod', rec(A, 'red' as Color)), /invalid colour/);
  await assert.rejects(recordSuccess(store, 'prod', { ...rec(A, 'blue'), manifest: { owner: 'talas', package: '../x', version: A, file: 'release.json', sha256: '9'.repeat(64) } }), /invalid package name/);
  await assert.rejects(recordSuccess(store, 'prod', { ...rec(A, 'blue'), manifest: { ...rec(A, 'blue').manifest, sha256: 'x' } }), /invalid sha256 for the release manifest/);
  await assert.rejects(readActiveColor(store, 'Prod'), /invalid environment name/);
  await store.write(activeColorKey('prod'), 'purple\n');
  await assert.rejects(readActiveColor(store, 'prod'), /holds "purple", not blue or green/);
  await store.write(historyKey('prod'), '{"schema":1,"env":"staging","entries":[]}');
  await assert.rejects(readHistory(store, 'prod'), /not a valid deploy history \(it belongs to env staging\)/);
  await store.write(historyKey('prod'), '[');
  await assert.rejects(readHistory(store, 'prod'), /not a valid deploy history/);
});
