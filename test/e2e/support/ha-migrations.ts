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

/** A migration that sleeps `seconds` in its transaction, then creates `table`: the table and its record commit together or not at all. */
export function slowMigration(file: string, seconds: number, table: string): Record<string, string> {
  return { [file]: `SELECT pg_sleep(${seconds});\nCREATE TABLE ${table} (id int PRIMARY KEY);\nINSERT INTO ${table} VALUES (1);\n` };
}

/** Whether a migration's table exists, and how many schema_migrations rows name its version: they must agree. */
export async function migrationState(url: string, table: string, version: string): Promise<{ table: boolean; records: number }> {
  const [row] = await query<{ t: string | null; n: string }>(url, `SELECT to_regclass('${table}')::text AS t, (SELECT count(*) FROM schema_migrations WHERE version = '${version}') AS n`);
  return { table: row!.t !== null, records: Number(row!.n) };
}

/** Until the slow migration's `pg_sleep(<seconds>)` shows in the node's pg_stat_activity (at most 2 min). */
export async function untilMigrationRuns(l: HaLayout, port: number, seconds: number): Promise<void> {
  for (let i = 0; ; i++) {
    const rows = await querySuper<{ n: string }>(l.socketDir, port, 'veza', `SELECT count(*) AS n FROM pg_stat_activity WHERE query LIKE '%pg_sleep(${seconds})%' AND pid <> pg_backend_pid()`);
    if (Number(rows[0]!.n) > 0) return;
    assert.ok(i < 1200, 'the slow migration started');
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * What a deploy sets on the edge: the config's bytes and each server's
 * admin state. The operational state is HAProxy's own health checks (a
 * colour with no slot goes from starting to down by itself), so it is left out.
 */
export function edgeSetting(workspace: Workspace, ws: E2eWorkspace): () => Promise<{ config: string | undefined; servers: string[] }> {
  const read = liveEdgeReader(workspace, `${ws.env}-edge`);
  return async () => {
    const e = await read();
    return { config: e.config, servers: e.servers.map((s) => s.replace(/ op=\d+/, '')) };
  };
}

/** A deploy that failed in its migrations: its message says so, the edge is as it was, the live URL still serves `live`. */
export async function assertFailedCleanly(ws: E2eWorkspace, message: string, edge: () => Promise<unknown>, edgeBefore: unknown, live: string): Promise<void> {
  assert.match(message, /migrat|api/i, message);
  assert.deepEqual(await edge(), edgeBefore, 'the edge config and servers are untouched');
  assert.equal(await ws.releaseAt('/api/v1/status'), live, `the live URL still serves ${live}`);
}
