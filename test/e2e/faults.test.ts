import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { deploy } from '@veza/engine/deploy/deploy';
import { rollback } from '@veza/engine/deploy/rollback';
import { readActiveColor, readHistory } from '@veza/engine/state/history';
import { readMetricsState } from '@veza/engine/deploy/metrics';
import { readAudit } from '@veza/engine/deploy/audit';
import { createDirStateStore } from '@veza/engine/ports/state-store';
import { localEdgeDir } from '@veza/engine/edge/local-edge-host';
import { validate } from '@veza/engine/config/names';
import { createLocalDriver } from '@veza/engine/hosts/local/driver';
import { loadWorkspace } from '@veza/engine/config/workspace';
import { liveEdgeReader } from '../support/live-edge';
import type { VezaError } from '@veza/engine/log/errors';
import { e2eWorkspace } from './support/workspace';
import { startLoad } from './support/load';
import { snapshotTree } from './support/tree';

/**
 * The deploy's failure paths, each against a live environment serving a good
 * release: a release failing its health check, one passing it but failing
 * the external verification (under load: no user request may fail), a
 * tampered or truncated artifact, bad input, and a release that moves a
 * health path (its declarations reach the edge only with its switch). After
 * each, the good release still serves and nothing it depends on was touched.
 */
const A = 'a0'.repeat(20);
const B = 'b0'.repeat(20);
const UNHEALTHY = 'c0'.repeat(20);
const WRONG = 'd0'.repeat(20);
const TAMPERED = 'e0'.repeat(20);
const TRUNCATED = 'f0'.repeat(20);
const MOVED_BROKEN = 'a1'.repeat(20);
const MOVED = 'b1'.repeat(20);
const BAKED = 'c1'.repeat(20);
const FLAKY = 'd1'.repeat(20);

type Coded = VezaError & { code: string };

test('a live environment survives every deploy fault', async (t) => {
  const ws = await e2eWorkspace(t, 'faults', { octet: 2 });
  const store = createDirStateStore(join(localEdgeDir(ws.root, `${ws.env}-edge`), 'state'));
  const driver = createLocalDriver({ workspaceRoot: ws.root, env: validate.env(ws.env) });
  /** What a fault must not change: every slot's record, process and state. */
  const slotsNow = async () => JSON.stringify(await Promise.all((await driver.list(ws.env)).map(async (s) => ({
    ...s,
    record: await fs.readFile(join(ws.root, '.veza/envs', ws.env, 'slots', s.name, 'slot.json'), 'utf8'),
  }))));

  const workspace = await loadWorkspace(ws.root);
  const edgeNow = liveEdgeReader(workspace, `${ws.env}-edge`);

  await ws.release(A);
  await deploy(await ws.options(A));
  await ws.release(B);
  await deploy(await ws.options(B));
  assert.equal(await ws.releaseAt('/api/status'), B);

  await t.test('a release failing its health check never reaches the edge; its slots are kept with their logs command', async () => {
    await ws.release(UNHEALTHY, { api: { healthy: false } });
    const err = await deploy(await ws.options(UNHEALTHY)).then(() => undefined, (e: Coded) => e);
    assert.ok(err, 'the deploy failed');
    assert.equal(err.code, 'HEALTH_FAILED', err.message);
    assert.match(err.hint, new RegExp(`tail -n 200 -f \\S+/veza-${ws.env}-api-green/log`), 'the hint is the one command that shows the failing slot\'s logs');
    assert.match(err.hint, /was not switched/);
    assert.equal(await readActiveColor(store, ws.env), 'blue');
    assert.equal(await ws.releaseAt('/api/status'), B, 'the old colour keeps serving');
    const history = await readHistory(store, ws.env);
    assert.deepEqual([history[0]!.sha, history[0]!.color, history[0]!.outcome], [UNHEALTHY, 'green', 'failed']);
    const metrics = await readMetricsState(store, ws.env);
    assert.deepEqual([metrics?.activeColor, metrics?.sha, typeof metrics?.lastFailureSeconds], ['blue', B, 'number'], 'the failure is in the metrics; what serves is unchanged');
    const kept = (await driver.list(ws.env)).find((s) => s.name === `veza-${ws.env}-api-green`);
    assert.deepEqual([kept?.state, kept?.release], ['running', UNHEALTHY], 'the failed slot is kept for forensics');
  });

  await t.test('fast rollback refuses a colour holding a failed release and points at --mode=full', async () => {
    const err = await rollback({ ...(await ws.common()), mode: 'fast' }).then(() => undefined, (e: Coded) => e);
    assert.equal(err?.code, 'ROLLBACK_REFUSED');
    assert.match(err!.message, /green holds release c0c0.*failed/);
    assert.match(err!.hint, /--mode=full/);
    assert.equal(await ws.releaseAt('/api/status'), B);
  });

  await t.test('a release that passes health but fails verification is switched back with no failed request', async () => {
    await ws.release(WRONG, { api: { release: '0'.repeat(40) } });
    const load = startLoad(ws.get, ['/', '/api/status', '/status.json']);
    const err = await deploy(await ws.options(WRONG)).then(() => undefined, (e: Coded) => e);
    const report = await load.stop();
    assert.equal(err?.code, 'VERIFY_FAILED', err?.message);
    assert.match(err!.message, /; the edge sees \S+_api_pool: green UP[^(,]*\(last check [A-Z0-9]+( \d+)?\) at 127\.[\d.]+:\d+, green_backup MAINT at /, 'the failure quotes what the edge saw of the colour');
    assert.match(err!.hint, /switched back to blue/);
    assert.match(err!.hint, /tail -n 200 -f \S+\/log/);
    assert.equal(await readActiveColor(store, ws.env), 'blue');
    assert.equal(await ws.releaseAt('/api/status'), B);
    assert.ok(report.requests >= 50, `the load ran through the episode (${report.requests} requests)`);
    assert.deepEqual(report.failures, [], `${report.failures.length} of ${report.requests} requests failed`);
    const history = await readHistory(store, ws.env);
    assert.deepEqual([history[0]!.sha, history[0]!.outcome], [WRONG, 'failed']);
  });

  await t.test('a tampered or truncated artifact in the registry is refused before any slot changes', async () => {
    for (const [sha, component, damage] of [
      [TAMPERED, 'web', (b: Buffer) => { b[b.length >> 1] ^= 0xff; return b; }],
      [TRUNCATED, 'api', (b: Buffer) => b.subarray(0, b.length - 7)],
    ] as const) {
      await ws.release(sha);
      const file = join(ws.root, '.veza/registry/veza/generic', component, sha, `${component}-${sha}.tar.zst`);
      await fs.writeFile(file, damage(await fs.readFile(file)));
      const before = await slotsNow();
      const stateBefore = await snapshotTree(join(ws.root, '.veza'));
      const err = await deploy(await ws.options(sha)).then(() => undefined, (e: Coded) => e);
      // The workspace still holds the packaged bytes: the registry's other bytes under those coordinates are refused.
      assert.equal(err?.code, 'ARTIFACT_IMMUTABLE', err?.message);
      assert.match(err!.message, new RegExp(`${component}@${sha}`));
      assert.equal(await slotsNow(), before, 'no slot was touched');
      assert.deepEqual(await snapshotTree(join(ws.root, '.veza')), stateBefore, 'refused before the lock: no file under .veza changed');
      assert.equal(await ws.releaseAt('/api/status'), B);
    }
  });

  await t.test('bad input fails with one clear error and touches nothing', async () => {
    const before = await slotsNow();
    const stateBefore = await snapshotTree(join(ws.root, '.veza'));
    const cases: [Parameters<typeof deploy>[0], RegExp][] = [
      [{ ...(await ws.options(A)), sha: 'abc' }, /invalid version "abc"/],
      [{ ...(await ws.options(A)), sha: 'A'.repeat(40) }, /invalid version/],
      [{ ...(await ws.options(A)), env: 'Prod;rm' }, /invalid environment name/],
      [{ ...(await ws.options(A)), env: 'nowhere' }, /unknown environment "nowhere"/],
      [{ ...(await ws.options(A)), sha: '9'.repeat(40) }, /not published/],
    ];
    for (const [opts, re] of cases) await assert.rejects(deploy(opts), re);
    const web = join(ws.root, 'apps/web/component.json');
    const decl = await fs.readFile(web, 'utf8');
    await fs.writeFile(web, decl.replace('"status": "/status.json"', '"status": "/status.json", "env": { "required": ["E2E_API_KEY"] }'));
    try {
      await assert.rejects(deploy(await ws.options(B)), (e: Coded) => e.code === 'MISSING_VAR' && /web requires E2E_API_KEY/.test(e.message) && /export E2E_API_KEY/.test(e.hint));
    } finally {
      await fs.writeFile(web, decl);
    }
    assert.equal(await slotsNow(), before);
    assert.deepEqual(await snapshotTree(join(ws.root, '.veza')), stateBefore);
    assert.equal(await ws.releaseAt('/api/status'), B);
  });

  await t.test('a release that moves a health path and fails its checks leaves the live edge byte-identical, the live colour\'s servers as they were', async () => {
    const before = await edgeNow();
    await ws.release(MOVED_BROKEN, { api: { health: '/api/ready', healthy: false } });
    const err = await deploy(await ws.options(MOVED_BROKEN)).then(() => undefined, (e: Coded) => e);
    assert.equal(err?.code, 'HEALTH_FAILED', err?.message);
    const after = await edgeNow();
    assert.equal(after.config, before.config, 'the live edge config is byte-identical');
    // The live colour's servers keep their states; the other colour's follow the slots the failed release replaced.
    const live = await readActiveColor(store, ws.env);
    // op=1 is UP in its slow start (30 s after a switch), op=2 UP at full weight: the ramp is time passing, not a change.
    const liveServers = (servers: string[]) => servers.filter((s) => s.includes(`/${live} `) || s.includes(`/${live}_backup `)).map((s) => s.replace(' op=1 ', ' op=2 '));
    assert.ok(liveServers(before.servers).length >= 4, before.servers.join('\n'));
    assert.deepEqual(liveServers(after.servers), liveServers(before.servers), 'the live colour\'s servers keep their states');
    assert.doesNotMatch(before.config ?? '', /\/api\/ready/);
    assert.equal(await ws.releaseAt('/api/status'), B, 'the public URL still serves the good release');
  });

  await t.test('a release that moves a health path goes live with no failed request; a fast rollback brings the old checks back byte for byte', async () => {
    const before = await edgeNow();
    await ws.release(MOVED, { api: { health: '/api/ready' } });
    let load = startLoad(ws.get, ['/', '/api/status', '/status.json']);
    const moved = await ws.options(MOVED);
    await deploy(moved);
    let report = await load.stop();
    const said = moved.lines.join('\n');
    assert.match(said, /\[diff\] api: changed \(/, 'before its slots change, the deploy says what the release changes');
    assert.match(said, /\[diff\]   run\.health: \/api\/health → \/api\/ready/);
    assert.match(said, /what changes: ok .*against b0b0\S+ on blue/);
    assert.deepEqual(report.failures, [], `${report.failures.length} of ${report.requests} requests failed during the switch`);
    assert.ok(report.requests >= 50, `the load ran through the switch (${report.requests} requests)`);
    assert.equal(await ws.releaseAt('/api/status'), MOVED);
    const live = (await edgeNow()).config ?? '';
    assert.match(live, /http-check send meth GET uri \/api\/ready/, 'the edge checks the api on the path its release declares');

    load = startLoad(ws.get, ['/', '/api/status', '/status.json']);
    await rollback({ ...(await ws.common()), mode: 'fast' });
    report = await load.stop();
    assert.deepEqual(report.failures, [], `${report.failures.length} of ${report.requests} requests failed during the rollback`);
    assert.equal(await ws.releaseAt('/api/status'), B);
    assert.equal((await edgeNow()).config, before.config, 'the previous release\'s declarations are back on the edge');
  });

  await t.test('the post-switch gate keeps a release whose users get their answers, and says what it saw', async () => {
    await ws.release(BAKED);
    const load = startLoad(ws.get, ['/', '/api/tracks']);
    const opts = await ws.options(BAKED);
    await deploy({ ...opts, bake: 2 });
    const report = await load.stop();
    assert.deepEqual(report.failures, []);
    assert.equal(await ws.releaseAt('/api/status'), BAKED);
    assert.ok(opts.lines.some((l) => /bake 2 s.*0 of \d+ answers \(0\.0 %\)/.test(l)), opts.lines.join('\n'));
  });

  await t.test('a release that passes health and verification but fails a fifth of real requests is reverted by the gate', async () => {
    const live = await readActiveColor(store, ws.env);
    await ws.release(FLAKY, { api: { failEvery: 5 } });
    const load = startLoad(ws.get, ['/api/tracks']);
    const started = Date.now();
    const err = await deploy({ ...(await ws.options(FLAKY)), bake: 30 }).then(() => undefined, (e: Coded) => e);
    const report = await load.stop();
    assert.equal(err?.code, 'BAKE_FAILED', err?.message);
    assert.match(err!.message, /failed in the post-switch gate: the \w+ colour failed \d+ of \d+ answers \(\d+\.\d %\) in [\d.]+ s — api \d+\/\d+, above the gate's 5\.0 %/);
    assert.match(err!.hint, new RegExp(`switched back to ${live}`));
    assert.ok(Date.now() - started < 25_000, 'the gate reverts as soon as the ratio is known, not at the end of its window');
    assert.equal(await readActiveColor(store, ws.env), live);
    assert.equal(await ws.releaseAt('/api/status'), BAKED, 'the previous release serves again');
    assert.ok(report.failures.length > 0 && report.failures.every((f) => /HTTP 500/.test(f)), 'the load saw the release\'s own 500s, and nothing else');
    const [last] = await readAudit(store, { env: ws.env, limit: 1 });
    assert.equal(last?.outcome, 'failure');
    assert.match(last?.message ?? '', /\d+ of \d+ answers/, 'the figures are in the audit');
    const metrics = await readMetricsState(store, ws.env);
    assert.deepEqual([metrics?.sha, typeof metrics?.lastFailureSeconds], [BAKED, 'number'], 'the failure metric is set; what serves is unchanged');
    assert.deepEqual((await readHistory(store, ws.env)).slice(0, 1).map((h) => [h.sha, h.outcome]), [[FLAKY, 'failed']]);
  });
});
