import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { deployCommand } from '@veza/engine/deploy/auto-promote';
import { readAudit } from '@veza/engine/deploy/audit';
import { lock, unlock } from '@veza/engine/deploy/unlock';
import { createDirStateStore } from '@veza/engine/ports/state-store';
import { localEdgeDir } from '@veza/engine/edge/local-edge-host';
import { heldBy, readActiveColor, readHistory } from '@veza/engine/state/history';
import type { VezaError } from '@veza/engine/log/errors';
import { e2eWorkspace } from './support/workspace';
import { snapshotTree } from './support/tree';
import { veza } from './support/veza-cli';

/**
 * autoPromoteSeconds on the real local tier: a `--no-switch` deploy waits,
 * then promotes the release it previewed (audited as a deploy and a
 * promote); a lock taken during the wait keeps the preview, changing
 * nothing live; out-of-range values are refused before anything changes.
 */
const A = 'a6'.repeat(20);
const B = 'b6'.repeat(20);
const C = 'c6'.repeat(20);

type Coded = VezaError & { code: string };

test('autoPromoteSeconds: a preview goes live by itself unless the environment is locked meanwhile', async (t) => {
  const ws = await e2eWorkspace(t, 'autop', { octet: 76, preview: true, autoPromoteSeconds: 1 });
  const store = createDirStateStore(join(localEdgeDir(ws.root, `${ws.env}-edge`), 'state'));
  const unchanged = () => snapshotTree(join(ws.root, '.veza'), (rel) => /\.(sock|log|pid)$|stat/.test(rel));
  await ws.release(A);
  await deployCommand(await ws.options(A));

  await t.test('after --no-switch, the command waits, then promotes that release: live, audited as deploy then promote', async () => {
    await ws.release(B);
    const o = await ws.options(B);
    const r = await deployCommand({ ...o, switch: false });
    assert.deepEqual([r.outcome, r.sha], ['success', B]);
    assert.equal(await ws.releaseAt('/api/status'), B);
    assert.equal(await readActiveColor(store, ws.env), r.color);
    assert.ok((o.log as unknown as { lines: string[] }).lines.some((l) => l.includes(`promoting ${B} on ${ws.env} in 1 s (autoPromoteSeconds)`)));
    const actions = (await readAudit(store, { env: ws.env, limit: 2 })).map((e) => `${e.action} ${e.outcome} ${e.sha}`);
    assert.deepEqual(actions, [`promote success ${B}`, `deploy success ${B}`], 'newest first');
  });

  await t.test('a lock taken during the wait keeps the preview: the promote is refused and the live release stays', async () => {
    await ws.release(C);
    const o = await ws.options(C);
    const placing = deployCommand({ ...o, switch: false, autoPromote: 3 }).then(() => undefined, (e: Coded) => e);
    // Once the preview is recorded and the deploy has let go of its lock, an operator locks the environment.
    let locked = false;
    for (let i = 0; i < 200 && !locked; i++) {
      const inactive = (await readActiveColor(store, ws.env)) === 'blue' ? 'green' : 'blue';
      const held = heldBy(await readHistory(store, ws.env), inactive);
      if (held?.sha === C && held.outcome === 'previewed') locked = await lock(await ws.common()).then(() => true, () => false);
      if (!locked) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(locked, 'the environment was locked during the wait');
    const err = await placing;
    assert.match(err?.message ?? '', /is locked by a hold/);
    assert.equal(await ws.releaseAt('/api/status'), B, 'B still serves');
    const held = heldBy(await readHistory(store, ws.env), (await readActiveColor(store, ws.env)) === 'blue' ? 'green' : 'blue');
    assert.deepEqual([held?.sha, held?.outcome], [C, 'previewed'], 'C waits in preview for a manual promote');
    await unlock(await ws.common());
  });

  await t.test('a dry-run says it would promote; out-of-range values are refused before anything changes: option, flag combination, environment file (file:line, one line from veza)', async () => {
    const before = await unchanged();
    const dry = await ws.options(C);
    await deployCommand({ ...dry, switch: false, dryRun: true });
    assert.ok((dry.log as unknown as { lines: string[] }).lines.some((l) => l.includes(`[plan] after 1 s (autoPromoteSeconds), promote ${C} on ${ws.env}`)), 'the dry-run says it would promote, and waits for nothing');
    for (const [opts, re] of [
      [{ switch: false, autoPromote: 5_000 }, /^invalid --auto-promote 5000: a preview goes live after a whole number of seconds from 0 to 3600$/],
      [{ switch: false, autoPromote: 1.5 }, /^invalid --auto-promote 1\.5/],
      [{ autoPromote: 10 }, /^--auto-promote=10 needs --no-switch/],
    ] as const) {
      const err = await deployCommand({ ...(await ws.options(C)), ...opts }).then(() => undefined, (e: Coded) => e);
      assert.equal(err?.code, 'INVALID_INPUT', err?.message);
      assert.match(err!.message, re);
    }
    const file = join(ws.root, 'infra', 'environments', `${ws.env}.yaml`);
    const good = await fs.readFile(file, 'utf8');
    for (const [bad, re] of [
      [good.replace('autoPromoteSeconds: 1', 'autoPromoteSeconds: 99999'), /autoPromoteSeconds: must be from 0 \(off\) to 3600 seconds/],
      [`${good}bake: { maxErrorRatio: 1.5 }\n`, /bake\.maxErrorRatio: must be a ratio from 0 to 1/],
    ] as const) {
      await fs.writeFile(file, bad);
      const r = await veza(ws.root, ['rollback', `--env=${ws.env}`, '--mode=fast']);
      await fs.writeFile(file, good);
      assert.equal(r.code, 1);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`${ws.env}\\.yaml:\\d+: ${re.source}`));
    }
    assert.equal(await ws.releaseAt('/api/status'), B, 'the refused rollback changed nothing live');
    assert.deepEqual(await unchanged(), before);
  });
});
