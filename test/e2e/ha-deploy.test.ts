import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ExecutorContext } from '@nx/devkit';
import { deploy } from '@veza/engine/deploy/deploy';
import { loadWorkspace } from '@veza/engine/config/workspace';
import { createDataTier } from '@veza/engine/data/tier';
import { haLayout, querySuper, readFormationState } from '@veza/engine/data/local/ha';
import type { LocalHaTier } from '@veza/engine/data/local/ha-tier';
import { createMemoryLogger } from '@veza/engine/log/logger';
import { createProcessRunner } from '@veza/engine/ports/process';
import { goApi } from '../support/go-api';
import { chainedSteps } from '@veza/engine/hosts/local/testing/fixtures';
import { e2eWorkspace } from './support/workspace';
import { assertFailedCleanly, edgeSetting, migrationState, onNode, slowMigration, untilMigrationRuns, writeGapDuring } from './support/ha-migrations';
import dataOpsExecutor from '../../tools/executors/src/executors/data-ops/executor';
import { captureExecutor } from '../../tools/executors/src/testing/capture';

/**
 * Deploys of the real veza-api (its Go binaries and migrate_tool) against
 * the HA topology on local: a pg_auto_failover monitor and two nodes,
 * PgBouncer in transaction mode in front, the app's DATABASE_URL (and so
 * the migrations') pointing at PgBouncer. On 127.79.95.x, this file's own
 * addresses. Two concurrent migrate runs through the pooler apply each file
 * exactly once; a failover in the middle of a deploy's migrations leaves
 * the deploy either completed or failed with the edge untouched, and never
 * a half-applied migration; the retry deploys.
 */
const A = '9a'.repeat(20);
const B = '9b'.repeat(20);
const POOLED = {
  // pg_sleep holds the lock long enough for the second run to wait on it.
  '0003_pooled.sql': 'SELECT pg_sleep(1);\nCREATE TABLE pooled_marker (id int PRIMARY KEY);\nINSERT INTO pooled_marker VALUES (1);\n',
};
// Long enough for the switchover to land while it runs.
const SLOW = slowMigration('0004_slow.sql', 8, 'failover_marker');

const exec = promisify(execFile);

test('the real api deploys against the HA formation; a failover during its migrations never half-applies one', { timeout: 20 * 60_000 }, async (t) => {
  const ws = await e2eWorkspace(t, 'ha-deploy', { octet: 95, realApi: true, ha: { port: 25950, pgbouncerPort: 25960 } });
  const workspace = await loadWorkspace(ws.root);
  const env = workspace.env(ws.env);
  const tier = () => createDataTier(env, { workspaceRoot: ws.root, runner: createProcessRunner(), log: createMemoryLogger() }) as LocalHaTier;
  const l = haLayout(env, ws.root);
  const go = await goApi();
  const step = chainedSteps(t);

  await step('a drill with no backup says so and fails; two migrate_tool runs at once through PgBouncer in transaction mode: each file applied by exactly one', async () => {
    await tier().provision();
    // Before the first deploy's pre-deploy backup: the repository holds none yet.
    const drill = await captureExecutor(() => dataOpsExecutor({ env: ws.env, action: 'drill' }, { root: ws.root, projectName: 'infra-data' } as ExecutorContext));
    assert.equal(drill.success, false, 'infra-data:drill with no backup exits non-zero');
    assert.match(drill.out, new RegExp(`no backup of ${ws.env} exists in .*: nothing to restore`));
    const url = await tier().databaseUrl();
    const dir = join(ws.root, 'pooled-migrations');
    await fs.mkdir(dir);
    for (const [f, sql] of Object.entries({ ...go.migrations, ...POOLED })) await fs.writeFile(join(dir, f), sql);
    const run = () => exec(join(go.dir, 'migrate_tool'), ['--up'], { env: { PATH: process.env.PATH, DATABASE_URL: url, MIGRATIONS_DIR: dir } });
    const runs = await Promise.all([run(), run()]);
    const lines = runs.flatMap((r) => r.stdout.split('\n').filter((x) => x.startsWith('applied ')));
    assert.deepEqual(lines.sort(), Object.keys({ ...go.migrations, ...POOLED }).map((f) => `applied ${f}`).sort(), JSON.stringify(runs));
    assert.deepEqual(await migrationState(url, 'pooled_marker', '0003_pooled'), { table: true, records: 1 });
    // A lock or setting left on a pooled server connection would hold up the next run for its lock_timeout, or change others' sessions.
    const third = await run();
    assert.equal(third.stdout, 'no changes\n');
    const leftovers = await querySuper<{ n: string }>(l.socketDir, (await readFormationState(l))!.formation.primary!.port, 'postgres', "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory'");
    assert.equal(Number(leftovers[0]!.n), 0, 'no advisory lock outlives a run');
  });

  await step('release A deploys: the api reports the schema through PgBouncer', async () => {
    await ws.release(A, { api: { migrations: POOLED } });
    await deploy(await ws.options(A));
    assert.equal(await ws.releaseAt('/api/v1/status'), A);
    const status = JSON.parse((await ws.get('/api/v1/status')).body) as Record<string, unknown>;
    assert.deepEqual([status.database, status.schemaVersion], ['ok', '0003_pooled']);
  });

  await step('a failover while release B migrates: the deploy completes or fails with the edge untouched; the migration is whole or absent; the retry deploys', async () => {
    const url = await tier().databaseUrl();
    const edgeNow = edgeSetting(workspace, `${ws.env}-edge`);
    const edgeBefore = await edgeNow();
    await ws.release(B, { api: { migrations: { ...POOLED, ...SLOW } } });
    const before = (await readFormationState(l))!.formation.primary!;
    const deploying = deploy(await ws.options(B)).then(() => 'completed' as const, (e: Error) => e);
    await untilMigrationRuns(onNode(l, before.port), 8);
    const triggered = Date.now();
    const deployEnded = deploying.then(() => Date.now());
    const { result: after, settledSeconds, gapSeconds: writeGapSeconds } = await writeGapDuring(url, triggered, () => tier().switchover());
    assert.notEqual(after, before.name);
    const outcome = await deploying;
    const marker = await migrationState(url, 'failover_marker', '0004_slow');
    assert.equal(marker.table, marker.records === 1, `schema and schema_migrations agree: ${JSON.stringify(marker)}`);
    if (outcome === 'completed') {
      assert.deepEqual(marker, { table: true, records: 1 });
      assert.equal(await ws.releaseAt('/api/v1/status'), B);
    } else {
      await assertFailedCleanly(ws, outcome.message, edgeNow, edgeBefore, A);
      assert.match(outcome.message, new RegExp(`the database of ${ws.env} is not writable: a failover is under way`), 'the deploy says why its migration failed');
    }
    const endedAfter = ((await deployEnded) - triggered) / 1000;
    t.diagnostic(`failover during migrations: deploy ${outcome === 'completed' ? 'completed' : `failed cleanly (${outcome.message.split('\n')[0]})`} ${endedAfter.toFixed(1)} s after the switchover began; migration ${marker.table ? 'applied whole' : 'absent'}; writes through PgBouncer refused for at most ${writeGapSeconds.toFixed(1)} s (switchover settled after ${settledSeconds.toFixed(1)} s)`);

    const retryStarted = Date.now();
    await deploy(await ws.options(B));
    assert.deepEqual(await migrationState(url, 'failover_marker', '0004_slow'), { table: true, records: 1 });
    assert.equal(await ws.releaseAt('/api/v1/status'), B);
    const status = JSON.parse((await ws.get('/api/v1/status')).body) as Record<string, unknown>;
    assert.deepEqual([status.database, status.schemaVersion], ['ok', '0004_slow']);
    t.diagnostic(`retry deploy of B: ${((Date.now() - retryStarted) / 1000).toFixed(1)} s`);
  });
});
