import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { deploy } from '@veza/engine/deploy/deploy';
import { promote } from '@veza/engine/deploy/promote';
import { readAudit } from '@veza/engine/deploy/audit';
import { createDirStateStore } from '@veza/engine/ports/state-store';
import { localEdgeDir } from '@veza/engine/edge/local-edge-host';
import { createLocalDriver } from '@veza/engine/hosts/local/driver';
import { reportedRelease } from '@veza/engine/deploy/probe';
import { heldBy, readActiveColor, readHistory } from '@veza/engine/state/history';
import type { VezaError } from '@veza/engine/log/errors';
import { validate } from '@veza/engine/config/names';
import { e2eWorkspace } from './support/workspace';
import { snapshotTree } from './support/tree';
import { veza } from './support/veza-cli';

/**
 * Preview and promote on the real local tier: `deploy --no-switch` brings
 * the inactive colour up and stops before the switch; the edge serves it at
 * the environment's preview host and never the live colour there; promote
 * (engine and `veza promote`) puts it live, and refuses when nothing is
 * previewed or the previewed slots are no longer healthy.
 */
const A = 'a8'.repeat(20);
const B = 'b8'.repeat(20);
const C = 'c8'.repeat(20);

type Coded = VezaError & { code: string };

test('deploy --no-switch previews the inactive colour at the preview host; promote puts it live', async (t) => {
  const ws = await e2eWorkspace(t, 'preview', { octet: 22, preview: true });
  const store = createDirStateStore(join(localEdgeDir(ws.root, `${ws.env}-edge`), 'state'));
  const at = async (path: string, preview = false) => {
    const r = await ws.get(path, { preview });
    return r.status === 200 ? reportedRelease(r.body) : `HTTP ${r.status}`;
  };
  const unchanged = () => snapshotTree(join(ws.root, '.veza'), (rel) => /\.(sock|log|pid)$|stat/.test(rel));
  await ws.release(A);
  await deploy(await ws.options(A));

  await t.test('promote with nothing previewed: refused, nothing changed', async () => {
    const before = await unchanged();
    const err = await promote(await ws.common()).then(() => undefined, (e: Coded) => e);
    assert.equal(err?.code, 'PROMOTE_REFUSED', err?.message);
    assert.match(err!.message, new RegExp(`^nothing is previewed on ${ws.env}: blue holds no release$`));
    const cli = await veza(ws.root, ['promote', `--env=${ws.env}`]);
    assert.equal(cli.code, 1);
    assert.match(cli.stderr, /error: nothing is previewed .* — deploy a release for preview first: npx nx run infra-deploy:deploy --env=e2e-preview --no-switch/);
    assert.deepEqual(await unchanged(), before);
  });

  await t.test('the preview host serves the inactive colour, never the live one', async () => {
    assert.equal(await at('/api/status'), A);
    const preview = await at('/api/status', true);
    assert.notEqual(preview, A, 'blue holds nothing yet: the preview host answers with an error, not with the live colour');
    assert.match(String(preview), /^HTTP 5\d\d$/);
  });

  await t.test('deploy --no-switch: B up on the inactive colour at the preview host; the public URL still serves A', async () => {
    await ws.release(B);
    const o = await ws.options(B);
    const r = await deploy({ ...o, switch: false });
    assert.deepEqual([r.outcome, r.color], ['success', 'blue']);
    assert.match(o.lines.at(-1)!, /up on blue for preview at http:\/\/preview-e2e-preview\.localhost:\d+; green still serves .* npx veza promote --env=e2e-preview/);
    assert.equal(await readActiveColor(store, ws.env), 'green');
    assert.equal(await at('/api/status'), A);
    assert.equal(await at('/status.json'), A);
    assert.equal(await at('/api/status', true), B);
    assert.equal(await at('/status.json', true), B);
    assert.equal(heldBy(await readHistory(store, ws.env), 'blue')?.outcome, 'previewed');
  });

  await t.test('veza promote puts the previewed release live; the preview host then serves the colour that went idle', async () => {
    const r = await veza(ws.root, ['promote', `--env=${ws.env}`, `--sha=${B}`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await at('/api/status'), B);
    assert.equal(await at('/api/status', true), A);
    const history = await readHistory(store, ws.env);
    assert.deepEqual([heldBy(history, 'blue')?.outcome, heldBy(history, 'blue')?.sha], ['active', B]);
    const [last] = await readAudit(store, { env: ws.env, limit: 1 });
    assert.deepEqual([last?.action, last?.outcome, last?.from, last?.to], ['promote', 'success', 'green', 'blue']);
  });

  await t.test('promote refuses a previewed release whose slots are no longer healthy, and changes nothing', async () => {
    await ws.release(C);
    await deploy({ ...(await ws.options(C)), switch: false });
    assert.equal(await at('/api/status', true), C);
    await createLocalDriver({ workspaceRoot: ws.root, env: validate.env(ws.env) }).stop(`veza-${ws.env}-api-green`);
    const before = await unchanged();
    const err = await promote(await ws.common()).then(() => undefined, (e: Coded) => e);
    assert.equal(err?.code, 'PROMOTE_REFUSED', err?.message);
    assert.match(err!.message, new RegExp(`^cannot promote ${C} on ${ws.env}: veza-${ws.env}-api-green is stopped$`));
    assert.deepEqual(await unchanged(), before);
    assert.equal(await at('/api/status'), B, 'the live release is untouched');
  });
});
