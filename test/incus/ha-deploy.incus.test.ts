import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { haSettings } from '@veza/engine/config/environment';
import { loadWorkspace } from '@veza/engine/config/workspace';
import type { IncusHaTier } from '@veza/engine/data/incus/ha-tier';
import { incusPgHa, memberOf } from '@veza/engine/data/incus/pg-ha';
import { firstWrite, query } from '@veza/engine/data/local/testing/ha-drills';
import { createDataTier } from '@veza/engine/data/tier';
import { reportedRelease } from '@veza/engine/deploy/probe';
import { IncusClient } from '@veza/engine/hosts/incus/client';
import { slotName } from '@veza/engine/hosts/naming';
import { incusSettings } from '@veza/engine/hosts/incus/host';
import { createMemoryLogger } from '@veza/engine/log/logger';
import { createProcessRunner } from '@veza/engine/ports/process';
import { httpGet } from '@veza/engine/util/http';
import { assertFailedCleanly, edgeSetting, migrationState, slowMigration, untilMigrationRuns, writeGapDuring } from '../e2e/support/ha-migrations';
import { ownBridge } from './support/project';
import { ownEnvironmentCopy, stopwatch } from './support/steps';
import { until } from './support/until';
import { progressLines } from './support/tier-repo';

/**
 * Issue 13's "deploys keep working" on real containers, with the commands
 * users type: in a copy of this repository with an environment of its own
 * (`incus-ha-test`: project veza-itest-hadeploy, prefix veza-hd-, its own
 * bridge vezahadbr0, the edge on 127.0.0.1:18530) whose PostgreSQL is the
 * HA topology — a pg_auto_failover monitor, two nodes and PgBouncer, each a
 * container the deploy's data phase provisions with apt — the real
 * components are built, published and deployed blue/green by
 * `nx run infra-deploy:deploy`, veza-api migrating through PgBouncer
 * (DATABASE_URL). Then a release whose migration sleeps in its transaction
 * is deployed twice more: once a planned switchover (`infra-data:failover`'s
 * tier.switchover()) lands while it sleeps, once the primary's container is
 * stopped hard. Each time the deploy completes, or fails with the live edge
 * byte-identical and the previous release still served, and the migration
 * is whole or absent, never half-applied; the re-run deploys it, applied
 * once. Project, bridge and backup repository are removed, pass or fail.
 */
const ENV = 'incus-ha-test';
const PROJECT = 'veza-itest-hadeploy';
const PREFIX = 'veza-hd-';
const BRIDGE = { name: 'vezahadbr0', cidr: '10.231.190.1/24' };
const PUBLIC = { host: '127.0.0.1', port: 18530, hostHeader: 'localhost:18530' };
const API_STATUS = '/api/v1/status';
const SECRETS = { VEZA_HD_POSTGRES_PASSWORD: `pg-${randomBytes(12).toString('base64url')}'$` };
/** pgBackRest's posix repository on this host, mounted into both nodes. */
const BACKUPS = `/tmp/veza-hd-repo-${randomBytes(4).toString('hex')}`;
// Long enough, on a loaded machine, for the fault to land while it sleeps; each its own length, so each is told apart in pg_stat_activity.
const SWITCH = { file: '0003_switchover.sql', version: '0003_switchover', table: 'switchover_marker', seconds: 20 };
const CRASH = { file: '0004_crash.sql', version: '0004_crash', table: 'crash_marker', seconds: 21 };

/** What a failed deploy said of its migration: migrate_tool's words and the tier's why (the failed command's script spans lines before them). */
const errorLine = (out: string) => [...out.matchAll(/migrate_tool: \d{4}_.*$/gm)].at(-1)?.[0] ?? [...out.matchAll(/^(?:\[\S+\] )?error: .*$/gm)].at(-1)?.[0] ?? out;

test('incus tier: the real components deploy onto the HA formation; a switchover or a crash during a deploy\'s migrations never half-applies one, and the re-run deploys', { timeout: 60 * 60_000 }, async (t) => {
  const { say, timed, summary } = stopwatch('incus-ha-deploy');
  Object.assign(process.env, SECRETS);
  const removeBridge = await ownBridge(BRIDGE.name, BRIDGE.cidr);
  let copy: Awaited<ReturnType<typeof ownEnvironmentCopy>>;
  try {
    copy = await ownEnvironmentCopy(t, {
      name: ENV, prefix: PREFIX, project: PROJECT, port: PUBLIC.port, tokenEnv: 'VEZA_HD_RUNNER_TOKEN', subnet: '127.79.30', localPort: 18430, nxTimeoutMs: 40 * 60_000,
      network: BRIDGE.name,
      // Only veza-api needs the data tier (DATABASE_URL): PostgreSQL alone, in the HA topology.
      environment: [[/^data:\n(?: {2}.*\n)+/m, `data:\n  postgres:\n    passwordEnv: VEZA_HD_POSTGRES_PASSWORD\n    topology: ha\n    ha: { nodes: 2, pgbouncer: { poolSize: 10, reservePoolSize: 2 }, backup: { repository: { path: ${BACKUPS} } } }\n`]],
    }, say);
  } finally {
    // After the project's wipe (registered by ownEnvironmentCopy, and after hooks run in order): a container on the bridge holds it.
    t.after(async () => {
      await removeBridge();
      await fs.rm(BACKUPS, { recursive: true, force: true });
      for (const k of Object.keys(SECRETS)) delete process.env[k];
    });
  }
  const { repo, env } = copy;
  const workspace = await loadWorkspace(repo.dir);
  const client = new IncusClient(createProcessRunner(), PROJECT);
  const h = incusPgHa(env, incusSettings(env), haSettings(env)!);
  const tier = () => createDataTier(env, { workspaceRoot: repo.dir, log: createMemoryLogger() }) as IncusHaTier;
  const deploy = async (label: string) => {
    const r = await timed(label, () => repo.nx('run', 'infra-deploy:deploy', `--env=${ENV}`));
    for (const line of progressLines(r.out)) say(`   ${line}`);
    return r;
  };
  const get = (path: string) => httpGet({ ...PUBLIC, path, timeoutMs: 5_000 });
  const web = { releaseAt: async (path: string) => reportedRelease((await get(path)).body) };
  const apiStatus = async () => JSON.parse((await get(API_STATUS)).body) as Record<string, unknown>;
  const edgeNow = edgeSetting(workspace, env.edge);
  // This host does not resolve the bridge's names: PgBouncer by its container's address, as the slots reach it by name.
  const dsn = async () => {
    const url = new URL(await tier().databaseUrl());
    assert.equal(`${url.hostname}:${url.port}`, `${h.pgbouncer.container}.incus:6432`, 'DATABASE_URL points at PgBouncer');
    url.hostname = (await client.instance(h.pgbouncer.container))!.ipv4[0]!;
    return url.toString();
  };
  const primary = async () => memberOf(h, (await tier().status()).formation?.primary)!;
  /** Commits a release of veza-api that adds `m`'s slow migration (slow in the environment's database only); returns its sha. */
  const slowRelease = async (m: typeof SWITCH) => {
    const [file, sql] = Object.entries(slowMigration(m.file, m.seconds, m.table, env.data.postgres.database))[0]!;
    await fs.writeFile(join(repo.dir, 'apps/veza-api/migrations', file), sql);
    return repo.commit(`veza-api: migration ${file}, ${m.seconds} s in its transaction`);
  };
  /** Starts the deploy of the head commit; resolves once its slow migration sleeps in pg_stat_activity, with the deploy still running (wrapped: a promise returned bare would be awaited). */
  const deployUntilMigrating = async (label: string, m: typeof SWITCH, url: string) => {
    let ended = false;
    const deploying = deploy(label).finally(() => {
      ended = true;
    });
    // A look that fails (PgBouncer busy on a loaded machine) is a look that saw nothing yet.
    await untilMigrationRuns((sql) => query<{ n: string }>(url, sql).catch(() => [{ n: '0' }]), m.seconds, { withinMs: 30 * 60_000, ended: () => ended });
    // How far into its sleep the migration's transaction is as the fault begins: the figure says the fault landed inside it.
    const [row] = await query<{ s: string }>(url, `SELECT extract(epoch FROM now() - xact_start)::numeric(6,1)::text AS s FROM pg_stat_activity WHERE query LIKE '%pg_sleep(${m.seconds})%' AND pid <> pg_backend_pid()`).catch(() => []);
    return { deploying, intoSleep: row ? `${row.s} s into its ${m.seconds} s sleep` : 'its sleep already over' };
  };
  /** A re-run that succeeds: the migration applied exactly once, the release live, reporting its schema version. */
  const rerun = async (label: string, sha: string, m: typeof SWITCH) => {
    const r = await deploy(label);
    assert.equal(r.code, 0, r.out);
    assert.deepEqual(await migrationState(await dsn(), m.table, m.version), { table: true, records: 1 });
    assert.equal(await web.releaseAt(API_STATUS), sha);
    const s = await apiStatus();
    assert.deepEqual([s.database, s.schemaVersion], ['ok', m.version]);
  };

  const A = await repo.head();
  await t.test('the first release deploys blue/green onto the HA formation the data phase provisions; the api migrates and reads through PgBouncer', async () => {
    const r = await deploy('deploy A (first, provisions the formation)');
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, new RegExp(`release ${A} is live on green`));
    const s = await apiStatus();
    assert.deepEqual([s.release, s.database, s.schemaVersion], [A, 'ok', '0002_playlists'], 'migrated by migrate_tool from the tools container, through PgBouncer');
    const f = (await tier().status()).formation;
    assert.equal(f?.healthy, true, f?.problems.join('; '));
    assert.deepEqual(await migrationState(await dsn(), 'playlists', '0002_playlists'), { table: true, records: 1 });
    assert.equal((await client.instance(slotName(env, 'veza-api', 'green')))?.status, 'Running');
  });

  let B = '';
  await t.test('a planned switchover while release B migrates: the deploy completes or fails with the edge untouched; the migration whole or absent; the re-run deploys it once', async () => {
    const url = await dsn();
    const edgeBefore = await edgeNow();
    B = await slowRelease(SWITCH);
    const before = await primary();
    const { deploying, intoSleep } = await deployUntilMigrating('deploy B (switchover during its migration)', SWITCH, url);
    const triggered = Date.now();
    const deployEnded = deploying.then(() => Date.now());
    const { result: after, settledSeconds, gapSeconds } = await writeGapDuring(url, triggered, () => tier().switchover());
    assert.notEqual(after, before.name, 'the switchover moved the primary');
    const r = await deploying;
    const marker = await migrationState(url, SWITCH.table, SWITCH.version);
    assert.equal(marker.table, marker.records === 1, `schema and schema_migrations agree: ${JSON.stringify(marker)}`);
    const message = errorLine(r.out);
    if (r.code === 0) {
      assert.deepEqual(marker, { table: true, records: 1 });
      assert.equal(await web.releaseAt(API_STATUS), B);
    } else {
      await assertFailedCleanly(web, message, edgeNow, edgeBefore, A);
    }
    const endedAfter = ((await deployEnded) - triggered) / 1000;
    say(`switchover during B's migration, begun ${intoSleep}: deploy ${r.code === 0 ? 'completed' : `failed cleanly (${message})`} ${endedAfter.toFixed(1)} s after the switchover began; migration ${marker.table ? 'applied whole' : 'absent'}; primary ${before.name} -> ${after}; writes through PgBouncer refused for at most ${gapSeconds.toFixed(1)} s; switchover settled after ${settledSeconds.toFixed(1)} s`);
    await rerun('deploy B again', B, SWITCH);
  });

  await t.test('the primary\'s container stopped hard while release C migrates: the deploy fails saying so, B still serves; after the failover nothing is half-applied; the re-run restarts the old primary and deploys C once', async () => {
    const url = await dsn();
    const edgeBefore = await edgeNow();
    const C = await slowRelease(CRASH);
    const victim = await primary();
    const { deploying, intoSleep } = await deployUntilMigrating('deploy C (primary stopped during its migration)', CRASH, url);
    const killedAt = Date.now();
    await client.run({ argv: ['incus', 'stop', '--force', victim.container, '--project', PROJECT], input: '', timeoutMs: 60_000, description: `stop ${victim.container} hard` });
    const r = await deploying;
    const failedAfter = (Date.now() - killedAt) / 1000;
    assert.equal(r.code, 1, r.out);
    const message = errorLine(r.out);
    assert.match(r.out, new RegExp(`the database of ${ENV} is not writable: ${victim.name}, the primary, does not answer`), message);
    await assertFailedCleanly(web, message, edgeNow, edgeBefore, B);
    // pg_auto_failover's detection and promotion; the primary follower re-points PgBouncer.
    const promotedAfter = await firstWrite(url, 'SELECT txid_current()', killedAt);
    assert.ok(promotedAfter > 0, 'a write through PgBouncer succeeds after the failover');
    assert.deepEqual(await migrationState(url, CRASH.table, CRASH.version), { table: false, records: 0 }, 'the killed migration left neither its table nor its record');
    const s = await apiStatus();
    assert.deepEqual([s.release, s.database, s.schemaVersion], [B, 'ok', SWITCH.version], 'B serves, on the new primary');
    say(`crash during C's migration: ${victim.container} stopped ${intoSleep}; deploy failed ${failedAfter.toFixed(1)} s after (${message}); a write through PgBouncer ${promotedAfter.toFixed(1)} s after the stop`);
    const rerunStarted = Date.now();
    await rerun('deploy C again (old primary still stopped)', C, CRASH);
    // The data phase started the old primary's container; it rejoins as a standby once it has caught up.
    const f = await until(`${victim.name} back as a standby`, 180, 1_000, async () => {
      const now = (await tier().status()).formation;
      return now?.healthy && now.nodes.find((n) => n.name === victim.name)?.state === 'secondary' ? now : undefined;
    });
    assert.notEqual(f.primary?.name, victim.name);
    say(`re-run of C: ${((Date.now() - rerunStarted) / 1000).toFixed(1)} s; from the stop to C live: ${((Date.now() - killedAt) / 1000).toFixed(1)} s`);
  });
  summary();
});
