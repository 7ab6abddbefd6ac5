import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { deploy } from '@veza/engine/deploy/deploy';
import { rollback } from '@veza/engine/deploy/rollback';
import { cleanup } from '@veza/engine/deploy/cleanup';
import { status } from '@veza/engine/deploy/status';
import { down } from '@veza/engine/deploy/down';
import { readAudit } from '@veza/engine/deploy/audit';
import { readHistory } from '@veza/engine/state/history';
import { createDirStateStore } from '@veza/engine/ports/state-store';
import { localEdgeDir } from '@veza/engine/edge/local-edge-host';
import { validate } from '@veza/engine/config/names';
import { createLocalDriver } from '@veza/engine/hosts/local/driver';
import { e2eWorkspace } from './support/workspace';

/**
 * One local environment taken through a release's whole life, on real
 * processes: a real HAProxy edge, a real Postgres, slots bound to their own
 * loopback addresses, every check over real HTTP through the edge.
 * The steps build on each other, so they run in order inside one test.
 */
const A = 'a1'.repeat(20);
const B = 'b2'.repeat(20);
const C = 'c3'.repeat(20);

test('deploy, no-op redeploy, second release, status, cleanup guard, fast and full rollback, down', async (t) => {
  const ws = await e2eWorkspace(t, 'story', { octet: 1, database: true });
  const store = createDirStateStore(join(localEdgeDir(ws.root, `${ws.env}-edge`), 'state'));
  const driver = createLocalDriver({ workspaceRoot: ws.root, env: validate.env(ws.env) });

  await t.test('the first deploy brings the environment up and the public URL serves the release', async () => {
    await ws.release(A);
    const r = await deploy(await ws.options(A));
    assert.equal(r.outcome, 'success');
    assert.equal(r.color, 'green', 'the first deploy goes to green (blue is the default active colour)');
    assert.equal(await ws.releaseAt('/api/status'), A);
    assert.equal(await ws.releaseAt('/status.json'), A);
    const api = JSON.parse((await ws.get('/api/status')).body);
    assert.equal(api.database, true, 'the api got DATABASE_URL from the data tier');
    assert.equal(api.color, 'green');
    const prom = await store.read(`metrics/veza-deploy-${ws.env}.prom`);
    assert.match(prom!, /veza_deploy_active_color\{env="e2e-story",color="green"\} 1/);
    assert.match(prom!, new RegExp(`veza_deploy_release_info\\{env="e2e-story",sha="${A}"\\} 1`));
    assert.match(prom!, /veza_deploy_last_success_timestamp_seconds\{env="e2e-story"\} \d+/);
    assert.ok(existsSync(join(ws.root, '.veza/registry/veza/generic/veza-release', A, 'release.json')), 'the release manifest is published beside the artifacts');
  });

  await t.test('deploying the same release again is a fast no-op that says so', async () => {
    const before = await driver.list(ws.env);
    const o = await ws.options(A);
    const r = await deploy(o);
    assert.equal(r.outcome, 'noop');
    assert.ok(o.lines.some((l) => /already deployed/.test(l)), o.lines.join('\n'));
    assert.deepEqual(await driver.list(ws.env), before, 'no slot was touched');
  });

  await t.test('a checkout of a published release whose packages now differ deploys what was published', async () => {
    // As when a shared build cache hands this checkout bytes built elsewhere for the same sha: a release never changes.
    await ws.release(A, { web: { schema: 'rebuilt elsewhere' } }, { publish: false });
    const before = await driver.list(ws.env);
    const o = { ...(await ws.options(A)), sha: undefined };
    const r = await deploy(o);
    assert.equal(r.outcome, 'noop', o.lines.join('\n'));
    assert.equal(r.sha, A);
    assert.ok(o.lines.some((l) => /release .* from the registry/.test(l)), o.lines.join('\n'));
    assert.deepEqual(await driver.list(ws.env), before, 'no slot was touched');
  });

  await t.test('a second release goes to the other colour; the old colour keeps running', async () => {
    await ws.release(B, { api: { schema: '0002' } });
    const o = await ws.options(B);
    const r = await deploy(o);
    assert.equal(r.color, 'blue');
    assert.equal(r.previousColor, 'green');
    assert.equal(await ws.releaseAt('/api/status'), B);
    assert.ok(o.lines.some((l) => /applied 0002/.test(l)), 'phase A applied the new migration');
    const slots = await driver.list(ws.env);
    assert.deepEqual(slots.filter((s) => s.role === 'green').map((s) => [s.state, s.release]), [['running', A], ['running', A]]);
    assert.ok(existsSync(join(ws.root, '.veza/envs', ws.env, 'snapshots', `pre-deploy-${B}.dump`)), 'a pre-deploy snapshot was taken');
  });

  await t.test('status --json reports the environment, its colours, health, history and lock', async () => {
    const s = await status(await ws.common());
    assert.equal(s.env, ws.env);
    assert.equal(s.activeColor, 'blue');
    assert.equal(s.release, B);
    assert.equal(s.publicUrl, ws.publicUrl);
    assert.deepEqual(s.components.map((c) => [c.component, c.health, c.release]), [['api', 'ok', B], ['web', 'ok', B]]);
    assert.deepEqual(s.inactive.components.map((c) => [c.component, c.health, c.release]), [['api', 'ok', A], ['web', 'ok', A]]);
    assert.deepEqual(s.history.map((h) => [h.sha, h.color, h.outcome]), [[B, 'blue', 'active'], [A, 'green', 'active']]);
    assert.equal(s.lock, null);
    assert.equal(s.edge.running, true);
    assert.doesNotThrow(() => JSON.stringify(s));
  });

  await t.test('cleanup refuses the active colour and touches nothing', async () => {
    const before = await driver.list(ws.env);
    await assert.rejects(cleanup({ ...(await ws.common()), color: 'blue' }), (e: Error & { code?: string }) => e.code === 'CLEANUP_REFUSED' && /blue/.test(e.message));
    assert.deepEqual(await driver.list(ws.env), before);
  });

  await t.test('fast rollback flips the edge back to the previous colour', async () => {
    const r = await rollback({ ...(await ws.common()), mode: 'fast' });
    assert.equal(r.color, 'green');
    assert.equal(r.sha, A);
    assert.equal(await ws.releaseAt('/api/status'), A);
    const history = await readHistory(store, ws.env);
    assert.deepEqual(history.slice(0, 2).map((h) => [h.sha, h.color, h.outcome]), [[A, 'green', 'active'], [B, 'blue', 'rolled-back']]);
  });

  await t.test('a second fast rollback is refused: the other colour holds a rolled-back release', async () => {
    await assert.rejects(rollback({ ...(await ws.common()), mode: 'fast' }), (e: Error & { code?: string }) =>
      e.code === 'ROLLBACK_REFUSED' && /blue holds release b2b2.*rolled back/.test(e.message));
    assert.equal(await ws.releaseAt('/api/status'), A);
  });

  await t.test('full rollback redeploys the previous good release from its manifest', async () => {
    await ws.release(C);
    await deploy(await ws.options(C));
    assert.equal(await ws.releaseAt('/api/status'), C);
    // The packaged artifacts now are C's: a full rollback must not need them.
    await fs.rm(join(ws.root, 'dist', 'artifacts'), { recursive: true });
    const r = await rollback({ ...(await ws.common()), mode: 'full' });
    assert.equal(r.sha, A);
    assert.equal(r.color, 'green');
    assert.equal(await ws.releaseAt('/api/status'), A);
    const history = await readHistory(store, ws.env);
    assert.deepEqual(history.slice(0, 2).map((h) => [h.sha, h.color, h.outcome]), [[A, 'green', 'active'], [C, 'blue', 'rolled-back']]);
  });

  await t.test('cleanup removes the inactive colour', async () => {
    const r = await cleanup({ ...(await ws.common()), color: 'blue' });
    assert.deepEqual(r.removed.sort(), [`veza-${ws.env}-api-blue`, `veza-${ws.env}-web-blue`]);
    assert.deepEqual((await driver.list(ws.env)).filter((s) => s.role !== 'tools').map((s) => s.role), ['green', 'green']);
    assert.equal(await ws.releaseAt('/api/status'), A, 'the active colour still serves');
  });

  await t.test('every action left one audit line', async () => {
    const audit = await readAudit(store, { env: ws.env });
    assert.deepEqual(audit.map((e) => [e.action, e.outcome]).reverse(), [
      ['deploy', 'success'], ['deploy', 'noop'], ['deploy', 'noop'], ['deploy', 'success'], ['cleanup', 'failure'], ['rollback', 'success'],
      ['rollback', 'failure'], ['deploy', 'success'], ['rollback', 'success'], ['cleanup', 'success'],
    ]);
    const last = audit.find((e) => e.action === 'rollback' && e.outcome === 'success')!;
    assert.deepEqual([last.sha, last.from, last.to], [A, 'blue', 'green']);
  });

  await t.test('down stops the slots, Postgres and the edge, keeping the state', async () => {
    const r = await down(await ws.common());
    assert.equal(r.slots.length, 2, 'the two green slots (the tools slot never runs)');
    assert.equal(r.data, true);
    assert.equal(r.edge, true);
    assert.ok((await driver.list(ws.env)).every((s) => s.state === 'stopped'));
    await assert.rejects(ws.get('/'), 'nothing listens on the public address any more');
    const s = await status(await ws.common());
    assert.equal(s.edge.running, false);
    assert.equal(s.activeColor, 'green');
  });

  await t.test('the next deploy brings a stopped environment back', async () => {
    const o = await ws.options(A);
    const r = await deploy(o);
    assert.equal(r.outcome, 'success', 'the active slots were stopped, so this is no no-op');
    assert.equal(await ws.releaseAt('/api/status'), A);
  });
});
