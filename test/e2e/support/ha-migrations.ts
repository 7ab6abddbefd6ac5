import assert from 'node:assert/strict';
import type { Workspace } from '@veza/engine/config/workspace';
import { querySuper, type HaLayout } from '@veza/engine/data/local/ha';
import { query } from '@veza/engine/data/local/testing/ha-drills';
import { liveEdgeReader } from '../../support/live-edge';
import type { E2eWorkspace } from './workspace';

/**
 * What the HA deploy tests (a switchover, a crash) share: a migration slow
 * enough for the fault to land while it runs, the wait until it does, and
 * the checks that a deploy it broke left nothing half-done.
 */

/**
 * A migration that sleeps `seconds` in its transaction, then creates `table`:
 * the table and its record commit together or not at all. With `onlyIn`, it
 * sleeps only in that database: the component's own tests, which apply
 * every migration to databases of their own, do not wait.
 */
export function slowMigration(file: string, seconds: number, table: string, onlyIn?: string): Record<string, string> {
  const where = onlyIn ? ` WHERE current_database() = '${onlyIn}'` : '';
  return { [file]: `SELECT pg_sleep(${seconds})${where};\nCREATE TABLE ${table} (id int PRIMARY KEY);\nINSERT INTO ${table} VALUES (1);\n` };
}

/** Whether a migration's table exists, and how many schema_migrations rows name its version: they must agree. */
export async function migrationState(url: string, table: string, version: string): Promise<{ table: boolean; records: number }> {
  const [row] = await query<{ t: string | null; n: string }>(url, `SELECT to_regclass('${table}')::text AS t, (SELECT count(*) FROM schema_migrations WHERE version = '${version}') AS n`);
  return { table: row!.t !== null, records: Number(row!.n) };
}

/**
 * Until the slow migration's `pg_sleep(<seconds>)` shows in pg_stat_activity
 * (at most 2 min), as `ask` reads it: a superuser on the node's socket, or
 * the app's role through PgBouncer (a role sees its own sessions' queries).
 */
export async function untilMigrationRuns(ask: (sql: string) => Promise<{ n: string }[]>, seconds: number, o: { withinMs?: number; ended?: () => boolean } = {}): Promise<void> {
  // A deploy that builds first (nx run infra-deploy:deploy) reaches its migrations only after minutes: `withinMs` and `ended` say how long to look.
  const deadline = Date.now() + (o.withinMs ?? 120_000);
  for (;;) {
    const rows = await ask(`SELECT count(*) AS n FROM pg_stat_activity WHERE query LIKE '%pg_sleep(${seconds})%' AND pid <> pg_backend_pid()`);
    if (Number(rows[0]!.n) > 0) return;
    assert.ok(!o.ended?.(), 'the deploy ended before its slow migration started');
    assert.ok(Date.now() < deadline, 'the slow migration started');
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Runs `fault` (a switchover) while a write (txid_current(), refused by a
 * standby) goes through `url` every 250 ms, until one succeeds after it:
 * its result, when it settled, and the longest stretch without a successful
 * write — from `since` or the last success before it to the first after it.
 */
export async function writeGapDuring<T>(url: string, since: number, fault: () => Promise<T>): Promise<{ result: T; settledSeconds: number; gapSeconds: number }> {
  let faulting = true;
  let settledAt = 0;
  const probes: { at: number; ok: boolean }[] = [];
  const probing = (async () => {
    while (faulting || !probes.at(-1)?.ok) {
      probes.push({ at: Date.now(), ok: await query(url, 'SELECT txid_current()').then(() => true, () => false) });
      assert.ok(Date.now() - since < 300_000, 'a write through PgBouncer succeeds after the switchover');
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  const result = await fault().finally(() => {
    faulting = false;
    settledAt = Date.now();
  });
  await probing;
  const oks = [since, ...probes.filter((p) => p.ok).map((p) => p.at)];
  return { result, settledSeconds: (settledAt - since) / 1000, gapSeconds: Math.max(...oks.slice(1).map((at, i) => at - oks[i]!)) / 1000 };
}

/** A superuser's query on a local formation's node, for untilMigrationRuns. */
export const onNode = (l: HaLayout, port: number) => (sql: string) => querySuper<{ n: string }>(l.socketDir, port, 'veza', sql);

/**
 * What a deploy sets on the edge: the config's bytes and each server's
 * admin state. The operational state is HAProxy's own health checks (a
 * colour with no slot goes from starting to down by itself), so it is left out.
 */
export function edgeSetting(workspace: Workspace, edge: string): () => Promise<{ config: string | undefined; servers: string[] }> {
  const read = liveEdgeReader(workspace, edge);
  return async () => {
    const e = await read();
    return { config: e.config, servers: e.servers.map((s) => s.replace(/ op=\d+/, '')) };
  };
}

/** A deploy that failed in its migrations: its message says so, the edge is as it was, the live URL still serves `live`. */
export async function assertFailedCleanly(ws: Pick<E2eWorkspace, 'releaseAt'>, message: string, edge: () => Promise<unknown>, edgeBefore: unknown, live: string): Promise<void> {
  assert.match(message, /migrat|api/i, message);
  assert.deepEqual(await edge(), edgeBefore, 'the edge config and servers are untouched');
  assert.equal(await ws.releaseAt('/api/v1/status'), live, `the live URL still serves ${live}`);
}
