import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { ExecutorContext } from '@nx/devkit';
import { loadWorkspace } from '@veza/engine/config/workspace';
import { haLayout, readFormationState, runningId } from '@veza/engine/data/local/ha';
import { livePostmaster } from '@veza/engine/data/local/postgres';
import { firstWrite, killPrimary } from '@veza/engine/data/local/testing/ha-drills';
import { chainedSteps } from '@veza/engine/hosts/local/testing/fixtures';
import { buildDatabaseUrl, resolvePostgresPassword } from '@veza/engine/data/credentials';
import deployExecutor from '../../tools/executors/src/executors/deploy/executor';
import { captureExecutor } from '../../tools/executors/src/testing/capture';
import { e2eWorkspace } from './support/workspace';
import { assertFailedCleanly, edgeSetting, migrationState, slowMigration, untilMigrationRuns } from './support/ha-migrations';

/**
 * The primary crashes while a deploy's migrations run: its pg_autoctl and
 * postgres are killed with SIGKILL (by pid, processes this test started)
 * while `nx run infra-deploy:deploy`'s executor applies the real veza-api's
 * migrations through PgBouncer in transaction mode. The deploy fails at
 * once, saying the database was lost, with the edge untouched and the live
 * release serving; after pg_auto_failover promotes the standby, the re-run
 * — with the old primary still dead, as right after a failover — applies
 * the migration exactly once and goes live. On 127.79.110.x, ports 18600–18620.
 */
const A = 'c1'.repeat(20);
const B = 'c2'.repeat(20);
const SLEEP = 6;
const SLOW = slowMigration('0003_crash.sql', SLEEP, 'crash_marker');

test('the primary crashes during a deploy\'s migrations: the deploy fails cleanly; after the failover the re-run applies them once and deploys', { timeout: 20 * 60_000 }, async (t) => {
  const ws = await e2eWorkspace(t, 'ha-crash', { octet: 110, port: 18600, realApi: true, ha: { port: 18610, pgbouncerPort: 18620 } });
  const workspace = await loadWorkspace(ws.root);
  const env = workspace.env(ws.env);
  const l = haLayout(env, ws.root);
  const step = chainedSteps(t);
  // As `nx run infra-deploy:deploy` runs it after its package tasks: the workspace's build, stamped with the release (ws.release packaged it).
  const context = { root: ws.root, projectName: 'infra-deploy', taskGraph: { tasks: { 'api:package': { target: { target: 'package' } } } } } as unknown as ExecutorContext;
  const deploy = async (sha: string) => {
    process.env.VEZA_RELEASE_SHA = sha;
    try {
      return await captureExecutor(() => deployExecutor({ env: ws.env, sha }, context));
    } finally {
      delete process.env.VEZA_RELEASE_SHA;
    }
  };
  const url = async () => buildDatabaseUrl(l.endpoint, (await resolvePostgresPassword(env, l.passwordFile, { generate: false }))!.value);
  let killed = { name: '', killedAt: 0 };

  await step('release A deploys through infra-deploy:deploy onto the HA formation; its provision writes the backup timers and says how to run them', async () => {
    await ws.release(A);
    const r = await deploy(A);
    assert.equal(r.success, true, r.out);
    assert.equal(await ws.releaseAt('/api/v1/status'), A);
    for (const u of l.timers.units) assert.equal(await fs.readFile(join(l.timers.dir, `${u.name}.timer`), 'utf8'), u.timer);
    assert.match(r.out, new RegExp(`to run them: systemctl link .*systemctl enable --now veza-${ws.env}-backup-full\\.timer veza-${ws.env}-backup-diff\\.timer veza-${ws.env}-drill\\.timer`));
  });

  await step('the primary is killed while release B migrates: the deploy fails saying so, the edge is untouched, A still serves, nothing half-applied', async () => {
    const edgeNow = edgeSetting(workspace, ws);
    const edgeBefore = await edgeNow();
    await ws.release(B, { api: { migrations: SLOW } });
    const primary = (await readFormationState(l))!.formation.primary!;
    const deploying = deploy(B);
    await untilMigrationRuns(l, primary.port, SLEEP);
    killed = await killPrimary(l);
    const outcome = await deploying;
    const failedAfter = (Date.now() - killed.killedAt) / 1000;
    assert.equal(outcome.success, false, outcome.out);
    // What `nx run` prints last: the one-line error, then what to do.
    const message = outcome.out.trim().split('\n').at(-1)!;
    assert.match(message, new RegExp(`0003_crash\\.sql: the connection was lost .*; the database of ${ws.env} is not writable: ${killed.name}, the primary, does not answer`), message);
    assert.match(message, new RegExp(`the edge was not touched .*once npx nx run infra-data:status --env=${ws.env} shows a primary, deploy again`), message);
    await assertFailedCleanly(ws, message, edgeNow, edgeBefore, A);

    // pg_auto_failover's detection, then the promotion; the primary follower re-points PgBouncer.
    const promotedAfter = await firstWrite(await url(), 'SELECT txid_current()', killed.killedAt);
    assert.ok(promotedAfter > 0, 'a write through PgBouncer succeeds after the failover');
    assert.notEqual((await readFormationState(l))!.formation.primary?.name, killed.name);
    assert.deepEqual(await migrationState(await url(), 'crash_marker', '0003_crash'), { table: false, records: 0 }, 'the killed migration left neither its table nor its record');
    const status = JSON.parse((await ws.get('/api/v1/status')).body) as Record<string, unknown>;
    assert.deepEqual([status.release, status.database], [A, 'ok'], 'A serves, on the new primary');
    t.diagnostic(`crash during migrations: deploy failed ${failedAfter.toFixed(1)} s after the kill (${message}); a write through PgBouncer succeeded ${promotedAfter.toFixed(1)} s after it`);
  });

  await step('right after the failover, the old primary still down: the re-run applies the migration exactly once and deploys B', async () => {
    const victim = l.nodes.findIndex((n) => n.name === killed.name);
    assert.equal(await runningId(l.pids.nodes[victim]!), undefined, 'the old primary\'s pg_autoctl is still down');
    assert.equal(livePostmaster(l.nodes[victim]!.pgdata), undefined, 'the old primary\'s postgres is still down');
    const started = Date.now();
    const r = await deploy(B);
    assert.equal(r.success, true, r.out);
    assert.deepEqual(await migrationState(await url(), 'crash_marker', '0003_crash'), { table: true, records: 1 });
    assert.equal(await ws.releaseAt('/api/v1/status'), B);
    const status = JSON.parse((await ws.get('/api/v1/status')).body) as Record<string, unknown>;
    assert.deepEqual([status.database, status.schemaVersion], ['ok', '0003_crash']);
    const f = (await readFormationState(l))!.formation;
    assert.equal(f.healthy, true, f.problems.join('; '));
    assert.equal(f.nodes.find((n) => n.name === killed.name)?.state, 'secondary', 'the deploy\'s provision restarted the old primary; it rejoined as a standby');
    // The data phase restarted the old primary and waited for it to rejoin; its line says how long that took.
    const dataPhase = r.out.split('\n').find((x) => x.startsWith('[data] ') && x.includes(' ok in '));
    t.diagnostic(`re-run deploy of B: ${((Date.now() - started) / 1000).toFixed(1)} s (${dataPhase}); from the kill to B live: ${((Date.now() - killed.killedAt) / 1000).toFixed(1)} s`);
  });
});
