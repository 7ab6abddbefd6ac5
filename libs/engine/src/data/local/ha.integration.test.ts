import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { environmentSchema, type Environment } from '../../config/environment';
import { VezaError } from '../../log/errors';
import { createMemoryLogger } from '../../log/logger';
import { createProcessRunner } from '../../ports/process';
import { chainedSteps, tempWorkspace } from '../../hosts/local/testing/fixtures';
import { autoctlConfigFile, partitionTimeoutIn } from '../ha/formation';
import { readSample } from '../ha/metrics';
import { createDataTier } from '../tier';
import { haLayout, readFormationState, runningId } from './ha';
import type { LocalHaTier } from './ha-tier';
import { livePostmaster } from './postgres';
import { failedTransactions, rowsAroundFullBackup, killPrimaryAndMeasure, pgbench, pooledRun, processed, query, tps } from './testing/ha-drills';

/**
 * The HA topology for real: a pg_auto_failover monitor and two nodes run
 * by pg_autoctl, PgBouncer and its primary follower, pgBackRest into a
 * posix repository, all on 127.79.31.x (this suite's own addresses) and
 * ports 25410-25430, with a Redis beside it. One formation serves the whole file, in order: the
 * failover comes last because it disturbs the others.
 */
const SUBNET = '127.79.31';
const POOL = 20;
const RESERVE = 5;

function haEnv(name: string): Environment {
  return environmentSchema.parse({
    name, driver: 'local', prefix: `veza-${name}-`, publicHosts: ['localhost'], publicUrl: 'http://localhost:18080', edge: 'local-edge',
    registry: { url: 'file:.veza/registry', owner: 'veza' }, local: { subnet: SUBNET },
    data: { postgres: { port: 25410, topology: 'ha', maxConnections: 100, ha: { nodes: 2, pgbouncer: { port: 25420, poolSize: POOL, reservePoolSize: RESERVE }, backup: { drill: { table: 'items', minRows: 1 } } } }, redis: { port: 25430 } },
  });
}

test('HA topology on local: formation and Redis, pooling, backup and drill, switchover, failover', { timeout: 15 * 60_000 }, async (t) => {
  const env = haEnv('ha-local');
  const tmp = await tempWorkspace(t, 'ha');
  const log = createMemoryLogger();
  const tier = () => createDataTier(env, { workspaceRoot: tmp.dir, runner: createProcessRunner(), log }) as LocalHaTier;
  tmp.defer(() => tier().stop());
  const l = haLayout(env, tmp.dir);
  // Each step builds on the one before.
  const step = chainedSteps(t);

  await step('provision starts the monitor, a primary and a standby behind PgBouncer; the second run changes nothing', async () => {
    const dry = await tier().provision({ dryRun: true });
    assert.ok(dry.steps.some((s) => s.kind === 'spawn' && s.command.argv.includes('pg_autoctl')));
    await assert.rejects(fs.stat(l.root), /ENOENT/, 'a dry-run touches nothing');

    await tier().provision();
    const f = (await readFormationState(l))!.formation;
    assert.equal(f.healthy, true, f.problems.join('; '));
    assert.deepEqual(f.nodes.map((n) => [n.name, n === f.primary ? 'primary' : n.state]), [['node1', 'primary'], ['node2', 'secondary']]);

    const again = await tier().provision();
    // Waits and folder checks re-run every time; nothing else may.
    assert.deepEqual(again.steps.filter((s) => s.kind !== 'wait' && s.kind !== 'mkdir').map((s) => s.title), []);
    assert.match(again.summary, /nothing to do.*; redis \(single\) of ha-local already provisioned: nothing to do$/);

    const url = await tier().databaseUrl();
    assert.match(url, new RegExp(`@${SUBNET}\\.2:25420/veza$`), 'DATABASE_URL points at PgBouncer');
    // The services the environment declares beside PostgreSQL run with the formation, as with the single server.
    assert.deepEqual((await tier().servicesStatus()).redis, { topology: 'single', address: `${SUBNET}.21:25430`, answering: true });
    assert.equal(new URL((await tier().serviceEnv()).REDIS_URL!).host, `${SUBNET}.21:25430`, 'slots get REDIS_URL');
    assert.deepEqual(await query(url, 'SELECT current_user AS u'), [{ u: 'veza' }]);
    for (const n of [l.monitor, ...l.nodes]) assert.equal(livePostmaster(n.pgdata)?.host, n.host, `${n.name} listens on its own address only`);
    // The failover timing: the monitor runs it, and each running keeper reloaded its partition timeout.
    const settings = (await readFormationState(l))!.monitorSettings;
    assert.deepEqual([settings['pgautofailover.node_considered_unhealthy_timeout'], settings['pgautofailover.primary_demote_timeout']], ['10000', '15000']);
    for (const n of l.nodes) {
      assert.equal(partitionTimeoutIn(await fs.readFile(autoctlConfigFile(l.autoctl, n.pgdata), 'utf8')), 10, `${n.name}'s config`);
      assert.match(await fs.readFile(join(l.logDir, `${n.name}.log`), 'utf8'), /Reloading configuration: timeout\.network_partition_timeout/, `${n.name}'s keeper reloaded it`);
    }
  });

  await step('pooling: pgbench -i -s 10 then 500 clients through PgBouncer: no failed transaction, server connections within the pool', async () => {
    const url = await tier().databaseUrl();
    const init = await pgbench(url, ['-i', '-s', '10', '-q']);
    assert.equal(init.code, 0, init.out);
    // A count of transactions rather than -T: 500 SCRAM logins take tens of seconds on a busy machine, and a timed run could end before any transaction (bench/pg-ha-bench.ts runs the timed -T 30).
    const run = await pooledRun(tier(), url, ['-c', '500', '-j', '8', '-t', '4']);
    const { maxServer } = run;
    assert.equal(run.code, 0, run.out);
    assert.equal(failedTransactions(run.out), 0, run.out);
    assert.equal(processed(run.out), 2000, run.out);
    assert.ok(maxServer > 0, 'SHOW POOLS was read during the run');
    assert.ok(maxServer <= POOL + RESERVE, `PgBouncer opened ${maxServer} server connections, more than ${POOL} + ${RESERVE}`);
    t.diagnostic(`pooling: tps ${tps(run.out)} with 500 clients; at most ${maxServer} server connections`);
  });

  await step('restore drill: no backup says so; the rows of the backup point and the archive come back; metrics say success', async () => {
    const url = await tier().databaseUrl();
    await assert.rejects(tier().drill(), (e: unknown) => e instanceof VezaError && e.code === 'DATA_NO_BACKUP' && /no backup/.test(e.message));
    const full = await rowsAroundFullBackup(tier(), l, url, 50);
    assert.equal(full.type, 'full');
    const result = await tier().drill();
    assert.equal(result.restoredRows, 150, 'the backup point (100 rows) plus the archived WAL after it (50 rows)');
    const metrics = await fs.readFile(join(l.metricsDir, 'veza_backup_drill.prom'), 'utf8');
    assert.equal(readSample(metrics, 'veza_backup_drill_success'), 1);
    assert.equal(readSample(metrics, 'veza_backup_drill_restored_rows'), 150);
    await assert.rejects(fs.stat(l.drill.pgdata), /ENOENT/, 'the throw-away copy is gone');
    const status = await tier().status();
    assert.equal(status.backups[0]?.label, full.label);
    assert.equal(status.lastDrill?.success, true);
    t.diagnostic(`drill: ${result.durationSeconds.toFixed(1)} s`);
  });

  await step('planned switchover moves the primary; PgBouncer follows', async () => {
    const url = await tier().databaseUrl();
    const before = (await readFormationState(l))!.formation.primary!.name;
    const after = await tier().switchover();
    assert.notEqual(after, before);
    for (let i = 0; ; i++) {
      const ok = await query(url, "INSERT INTO items VALUES (1000, 'after switchover')").then(() => true, () => false);
      if (ok) break;
      assert.ok(i < 60, 'a write through PgBouncer succeeds after the switchover');
      await new Promise((r) => setTimeout(r, 500));
    }
    const f = (await readFormationState(l))!.formation;
    assert.equal(f.primary?.name, after);
    assert.equal(f.healthy, true, f.problems.join('; '));
  });

  await step('failover: the primary killed outright, the standby takes over behind PgBouncer, the old primary rejoins as a standby, the new primary archives', async () => {
    const url = await tier().databaseUrl();
    await query(url, 'CREATE TABLE kills (id serial PRIMARY KEY, at timestamptz DEFAULT now())');
    const m = await killPrimaryAndMeasure(l, url, 'kills');
    assert.ok(Number.isFinite(m.rtoSeconds), 'a write through PgBouncer succeeds after the kill');
    const after = (await readFormationState(l))!.formation;
    assert.notEqual(after.primary?.name, m.before, 'the standby was promoted');
    t.diagnostic(`failover RTO: ${m.rtoSeconds.toFixed(1)} s (kill to first write through PgBouncer); pgbench: ${m.bench}`);

    await tier().provision();
    const rejoined = (await readFormationState(l))!.formation;
    assert.equal(rejoined.healthy, true, rejoined.problems.join('; '));
    assert.equal(rejoined.nodes.find((n) => n.name === m.before)?.state, 'secondary', 'the old primary is a standby now');
    // The new primary archives its WAL too: a backup waits for that archive.
    assert.equal((await tier().backup('diff')).type, 'diff');
  });

  await step('a drill against a corrupted repository fails clearly and writes success 0', async () => {
    const info = join(l.backrest.repoPath, 'backup', 'veza');
    for (const f of ['backup.info', 'backup.info.copy']) await fs.writeFile(join(info, f), 'corrupted by the test\n');
    await assert.rejects(tier().drill(), (e: unknown) => e instanceof VezaError && e.code === 'DRILL_FAILED' && /repository .* cannot be read/.test(e.message));
    const metrics = await fs.readFile(join(l.metricsDir, 'veza_backup_drill.prom'), 'utf8');
    assert.equal(readSample(metrics, 'veza_backup_drill_success'), 0);
  });

  await step('teardown stops every process by pid, Redis with the formation, and keeps the data', async () => {
    assert.equal(await tier().stop(), true);
    assert.deepEqual((await tier().servicesStatus()).redis, { topology: 'single', address: `${SUBNET}.21:25430`, answering: false });
    for (const p of [l.pids.monitor, ...l.pids.nodes, l.pids.pgbouncer, l.pids.follower]) assert.equal(await runningId(p), undefined, p);
    for (const n of l.nodes) await fs.stat(join(n.pgdata, 'PG_VERSION'));
  });
});
