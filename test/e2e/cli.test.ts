import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { deploy } from '@veza/engine/deploy/deploy';
import { readAudit } from '@veza/engine/deploy/audit';
import type { StatusReport } from '@veza/engine/deploy/status';
import type { DiffReport } from '@veza/engine/deploy/release-diff';
import { createDirStateStore } from '@veza/engine/ports/state-store';
import { localEdgeDir } from '@veza/engine/edge/local-edge-host';
import { e2eWorkspace } from './support/workspace';
import { snapshotTree } from './support/tree';
import { veza } from './support/veza-cli';

/**
 * `veza`, the operator CLI, as its own process against a real local
 * environment (slots, HAProxy): the same reports, refusals, locks and audit
 * lines as the Nx targets, since it runs the same engine calls.
 */
const A = 'a7'.repeat(20);
const B = 'b7'.repeat(20);
const C = 'c7'.repeat(20);
const NEVER = 'd7'.repeat(20);

test('veza status, history, diff, rollback, lock/unlock and logs on a live local environment', async (t) => {
  const ws = await e2eWorkspace(t, 'cli', { octet: 21 });
  const store = createDirStateStore(join(localEdgeDir(ws.root, `${ws.env}-edge`), 'state'));
  const env = `--env=${ws.env}`;
  for (const sha of [A, B]) {
    await ws.release(sha);
    await deploy(await ws.options(sha));
  }
  const unchanged = () => snapshotTree(join(ws.root, '.veza'), (rel) => /\.(sock|log|pid)$|stat/.test(rel));

  await t.test('status: the report the Nx target prints, as text and as JSON', async () => {
    const json = await veza(ws.root, ['status', env, '--json']);
    assert.equal(json.code, 0, json.stderr);
    const report = JSON.parse(json.stdout) as StatusReport;
    assert.deepEqual([report.release, report.inactive.release, report.edge.running], [B, A, true]);
    assert.ok(report.components.every((c) => c.health === 'ok'), json.stdout);
    const text = await veza(ws.root, ['status', env]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`^${ws.env} \\(local\\): ${report.activeColor} serves ${B} at ${ws.publicUrl}\n`));
    assert.match(text.stdout, /\nlock: free\n/);
  });

  await t.test('history: newest first', async () => {
    const r = await veza(ws.root, ['history', env]);
    assert.equal(r.code, 0, r.stderr);
    const shas = r.stdout.split('\n').filter((l) => /active/.test(l)).map((l) => l.trim().split(/\s+/)[3]);
    assert.deepEqual(shas, [B, A]);
  });

  await t.test('diff: what deploying a release would change against the live one, text and JSON, changing nothing', async () => {
    await ws.release(C, { api: { health: '/api/ready' } });
    const before = await unchanged();
    // C is this workspace's build (not a published release): what a deploy from here would publish.
    const build = { ...process.env, VEZA_RELEASE_SHA: C };
    const text = await veza(ws.root, ['diff', env, `--sha=${C}`], build);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`^${ws.env}: release ${C}, against ${B} on \\w+\n`));
    assert.match(text.stdout, /\napi: changed \(.+ → .+\)\n {2}run\.health: \/api\/health → \/api\/ready\n/);
    const json = await veza(ws.root, ['diff', env, `--sha=${C}`, '--json'], build);
    const report = JSON.parse(json.stdout) as DiffReport;
    assert.deepEqual([report.from, report.to, report.components.map((c) => `${c.component} ${c.change}`)], [B, C, ['api changed', 'web changed']]);
    assert.deepEqual(await unchanged(), before);
  });

  await t.test('rollback --to a release never deployed here: one line, exit 1, nothing changed', async () => {
    const before = await unchanged();
    const audit = (await readAudit(store, { env: ws.env })).length;
    const r = await veza(ws.root, ['rollback', env, '--mode=full', `--to=${NEVER}`]);
    assert.equal(r.code, 1, r.stderr);
    // The progress summary says it failed; the one error line says why and what to do.
    const errors = r.stderr.split('\n').filter((l) => l.startsWith('error: '));
    assert.equal(errors.length, 1, r.stderr);
    assert.match(errors[0]!, new RegExp(`release ${NEVER} was never deployed to ${ws.env} .* — pick a release its history shows live`));
    assert.deepEqual(await unchanged(), before);
    assert.equal((await readAudit(store, { env: ws.env })).length, audit, 'no audit line');
    assert.equal(await ws.releaseAt('/api/status'), B);
  });

  await t.test('bad usage exits 2 with one line', async () => {
    for (const words of [['frobnicate'], ['rollback', env, '--mode=sideways'], ['status', env, '--colour=blue'], ['logs']]) {
      const r = await veza(ws.root, words);
      assert.equal(r.code, 2, `${words.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
  });

  await t.test('lock holds the deploy lock after the command ends; a rollback is refused until unlock; both audited', async () => {
    const lock = await veza(ws.root, ['lock', env]);
    assert.equal(lock.code, 0, lock.stderr);
    const refused = await veza(ws.root, ['rollback', env, '--mode=fast']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /is locked by a hold .*an operator holds it on purpose/);
    assert.equal(await ws.releaseAt('/api/status'), B);
    const unlock = await veza(ws.root, ['unlock', env]);
    assert.equal(unlock.code, 0, unlock.stderr);
    const actions = (await readAudit(store, { env: ws.env, limit: 2 })).map((e) => `${e.action} ${e.outcome}`);
    assert.deepEqual(actions, ['unlock success', 'lock success'], 'newest first; the refused rollback took no lock and wrote no line');
  });

  await t.test('rollback --mode=fast flips the edge back to the previous release, audited', async () => {
    const r = await veza(ws.root, ['rollback', env, '--mode=fast']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`rolled back to ${A}`));
    assert.equal(await ws.releaseAt('/api/status'), A);
    const [last] = await readAudit(store, { env: ws.env, limit: 1 });
    assert.deepEqual([last?.action, last?.outcome, last?.sha], ['rollback', 'success', A]);
  });

  await t.test("logs prints a slot's log; an unknown component is one line", async () => {
    const r = await veza(ws.root, ['logs', 'api', env, '--color=blue']);
    assert.equal(r.code, 0, r.stderr);
    const bad = await veza(ws.root, ['logs', 'nope', env]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /has no component "nope".*api, web/);
  });
});
