import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { ExecutorContext } from '@nx/devkit';
import { loadWorkspace } from '@veza/engine/config/workspace';
import { haLayout, readFormationState, runningId } from '@veza/engine/data/local/ha';
import type { LocalHaTier } from '@veza/engine/data/local/ha-tier';
import { createDataTier } from '@veza/engine/data/tier';
import { createMemoryLogger } from '@veza/engine/log/logger';
import { livePostmaster } from '@veza/engine/data/local/postgres';
import { firstWrite, killPrimary } from '@veza/engine/data/local/testing/ha-drills';
import { chainedSteps } from '@veza/engine/hosts/local/testing/fixtures';
import { buildDatabaseUrl, resolvePostgresPassword } from '@veza/engine/data/credentials';
import deployExecutor from '../../tools/executors/src/executors/deploy/executor';
import { captureExecutor } from '../../tools/executors/src/testing/capture';
import { e2eWorkspace } from './support/workspace';
import { assertFailedCleanly, edgeSetting, migrationState, onNode, slowMigration, untilMigrationRuns } from './support/ha-migrations';

/**
 * The primary crashes while a deploy's migrations run: its pg_autoctl and
 * postgres are killed with SIGKILL (by pid, processes this test started)
 * while `nx run infra-deploy:deploy`'s executor applies the real veza-api's
 * migrations through PgBouncer in transaction mode. Each time the deploy
 * fails at once, saying the primary does not answer, with the edge
 * untouched and the live release serving. Re-run at once, the deploy
 * restarts the crashed node before its migrations; re-run after
 * pg_auto_failover promoted the standby — the old primary still dead, as
 * right after a failover — it rejoins the old primary. Either way the
 * migration is applied exactly once and the release goes live.
 * On 127.79.110.x, ports 18600–18620.
 */
const A = 'c1'.repeat(20);
const B = 'c2'.repeat(20);
const C = 'c3'.repeat(20);
const SLOW_B = slowMigration('0003_crash.sql', 6, 'crash_marker');
const SLOW_C = slowMigration('0004_crash.sql', 7, 'crash_marker_2');

test('the primary crashes during a deploy\'s migrations: the deploy fails cleanly; a re-run, at once or after the failover, applies them once and deploys', { timeout: 20 * 60_000 }, async (t) => {
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
  const edgeNow = edgeSetting(workspace, `${ws.env}-edge`);
  /** Deploys `sha` with `migrations` and kills the primary while `file` sleeps `seconds`: the deploy must fail cleanly with `live` still serving. */
  const crashDuring = async (sha: string, migrations: Record<string, string>, file: string, seconds: number, live: string) => {
    const edgeBefore = await edgeNow();
    await ws.release(sha, { api: { migrations } });
    const primary = (await readFormationState(l))!.formation.primary!;
    const deploying = deploy(sha);
    await untilMigrationRuns(onNode(l, primary.port), seconds);
    const killed = await killPrimary(l);
    const outcome = await deploying;
    const failedAfter = (Date.now() - killed.killedAt) / 1000;
    assert.equal(outcome.success, false, outcome.out);
    // What `nx run` prints last: the one-line error, then what to do.
    const message = outcome.out.trim().split('\n').at(-1)!;
    assert.match(message, new RegExp(`${file.replace('.', '\\.')}: the connection was lost .*; the database of ${ws.env} is not writable: ${killed.name}, the primary, does not answer`), message);
    assert.match(message, /the edge was not touched .*; deploy again: its data phase restarts what stopped and waits for a primary that answers/, message);
    await assertFailedCleanly(ws, message, edgeNow, edgeBefore, live);
    // The monitor still names the dead primary healthy until it gives up on it (the failover timing): status must not.
    const { formation } = await (createDataTier(env, { workspaceRoot: ws.root, log: createMemoryLogger() }) as LocalHaTier).status();
    assert.equal(formation?.healthy, false, `status after the kill: ${formation?.problems.join('; ')}`);
    assert.ok(formation.problems.some((p) => p.includes(killed.name)), `status names ${killed.name}: ${formation.problems.join('; ')}`);
    return { ...killed, failedAfter, message };
  };
  /** A re-run of `sha` that succeeds: its migration applied exactly once, the release live, the formation healthy. */
  const rerun = async (sha: string, table: string, version: string) => {
    const started = Date.now();
    const r = await deploy(sha);
    assert.equal(r.success, true, r.out);
    assert.deepEqual(await migrationState(await url(), table, version), { table: true, records: 1 });
    assert.equal(await ws.releaseAt('/api/v1/status'), sha);
    const status = JSON.parse((await ws.get('/api/v1/status')).body) as Record<string, unknown>;
    assert.deepEqual([status.database, status.schemaVersion], ['ok', version]);
    const f = (await readFormationState(l))!.formation;
    assert.equal(f.healthy, true, f.problems.join('; '));
    // The data phase restarted the crashed node and waited for the formation; its line says how long that took.
    const dataPhase = r.out.split('\n').find((x) => x.startsWith('[data] ') && x.includes(' ok in '));
    return { f, seconds: (Date.now() - started) / 1000, dataPhase };
  };

  await step('release A deploys through infra-deploy:deploy onto the HA formation; its provision writes the backup timers and says how to run them', async () => {
    await ws.release(A);
    const r = await deploy(A);
    assert.equal(r.success, true, r.out);
    assert.equal(await ws.releaseAt('/api/v1/status'), A);
    for (const u of l.timers.units) assert.equal(await fs.readFile(join(l.timers.dir, `${u.name}.timer`), 'utf8'), u.timer);
    assert.match(r.out, new RegExp(`to run them: systemctl link .*systemctl enable --now veza-${ws.env}-backup-full\\.timer veza-${ws.env}-backup-diff\\.timer veza-${ws.env}-drill\\.timer`));
  });

  await step('the primary is killed while release B migrates: the deploy fails saying so, A still serves; re-run at once, before any failover, it deploys B', async () => {
    const crash = await crashDuring(B, SLOW_B, '0003_crash.sql', 6, A);
    // The monitor still names the dead node primary: the re-run's provision restarts it and waits until it answers.
    const again = await rerun(B, 'crash_marker', '0003_crash');
    t.diagnostic(`crash during B's migrations: deploy failed ${crash.failedAfter.toFixed(1)} s after the kill (${crash.message}); re-run at once: ${again.seconds.toFixed(1)} s (${again.dataPhase}), primary then ${again.f.primary?.name}`);
  });

  await step('the primary is killed while release C migrates: the deploy fails saying so, B still serves; after the failover, nothing half-applied', async () => {
    const crash = await crashDuring(C, { ...SLOW_B, ...SLOW_C }, '0004_crash.sql', 7, B);
    // pg_auto_failover's detection, then the promotion; the primary follower re-points PgBouncer.
    const promotedAfter = await firstWrite(await url(), 'SELECT txid_current()', crash.killedAt);
    assert.ok(promotedAfter > 0, 'a write through PgBouncer succeeds after the failover');
    assert.notEqual((await readFormationState(l))!.formation.primary?.name, crash.name);
    assert.deepEqual(await migrationState(await url(), 'crash_marker_2', '0004_crash'), { table: false, records: 0 }, 'the killed migration left neither its table nor its record');
    const status = JSON.parse((await ws.get('/api/v1/status')).body) as Record<string, unknown>;
    assert.deepEqual([status.release, status.database], [B, 'ok'], 'B serves, on the new primary');
    t.diagnostic(`crash during C's migrations: deploy failed ${crash.failedAfter.toFixed(1)} s after the kill; a write through PgBouncer succeeded ${promotedAfter.toFixed(1)} s after it`);

    const victim = l.nodes.findIndex((n) => n.name === crash.name);
    assert.equal(await runningId(l.pids.nodes[victim]!), undefined, 'the old primary\'s pg_autoctl is still down');
    assert.equal(livePostmaster(l.nodes[victim]!.pgdata), undefined, 'the old primary\'s postgres is still down');
    const again = await rerun(C, 'crash_marker_2', '0004_crash');
    assert.equal(again.f.nodes.find((n) => n.name === crash.name)?.state, 'secondary', 'the deploy\'s provision restarted the old primary; it rejoined as a standby');
    t.diagnostic(`re-run of C after the failover, the old primary down: ${again.seconds.toFixed(1)} s (${again.dataPhase}); from the kill to C live: ${((Date.now() - crash.killedAt) / 1000).toFixed(1)} s`);
  });
});
