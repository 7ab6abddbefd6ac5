import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Client } from 'pg';
import { deploy } from '@veza/engine/deploy/deploy';
import { createDataTier } from '@veza/engine/data/tier';
import type { DiffReport } from '@veza/engine/deploy/release-diff';
import { createMemoryLogger } from '@veza/engine/log/logger';
import { e2eWorkspace } from './support/workspace';
import { snapshotTree } from './support/tree';
import { veza } from './support/veza-cli';

/**
 * The deploy diff's pending migrations, read with the release's own status
 * command against the environment's real PostgreSQL (the local data tier):
 * in `veza diff` (text and JSON), in the deploy's diff phase and in its
 * dry-run; an unprovisioned or stopped database makes them "unknown (why)"
 * without failing the diff or the deploy.
 */
const A = 'a5'.repeat(20);
const B = 'b5'.repeat(20);

test('pending migrations in veza diff, the deploy and its dry-run, against the live PostgreSQL', async (t) => {
  const ws = await e2eWorkspace(t, 'migr', { octet: 75, database: true });
  const env = `--env=${ws.env}`;
  // B is this workspace's build, packaged but not yet published as a release: what a deploy from here would publish.
  const build = { ...process.env, VEZA_RELEASE_SHA: B };
  const tier = async () => createDataTier((await ws.common()).workspace.env(ws.env), { workspaceRoot: ws.root, log: createMemoryLogger() });
  const applied = async () => {
    const c = new Client({ connectionString: await (await tier()).databaseUrl() });
    await c.connect();
    try {
      return (await c.query<{ version: string }>('SELECT version FROM e2e_schema ORDER BY version')).rows.map((r) => r.version);
    } finally {
      await c.end();
    }
  };
  // The database itself is compared by its migrations table (applied()); its files change as a server runs.
  const unchanged = () => snapshotTree(join(ws.root, '.veza'), (rel) => /\.(sock|log|pid)$|stat|\/data\/postgres\//.test(rel));
  const diffLine = (lines: string[]) => lines.filter((l) => /api migrations: /.test(l));

  await t.test('a first deploy, with no database yet: unknown, and the deploy goes on', async () => {
    await ws.release(A);
    const o = await ws.options(A);
    await deploy(o);
    assert.match(diffLine(o.lines).join('\n'), /api migrations: unknown \(the database of e2e-migr: postgres of e2e-migr has no password yet\)/);
    assert.deepEqual(await applied(), ['0001']);
  });

  await t.test('veza diff lists the migration a release adds, as text and JSON, changing nothing', async () => {
    await ws.release(B, { api: { schema: '0002_tags' } });
    const before = await unchanged();
    const text = await veza(ws.root, ['diff', env, `--sha=${B}`], build);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /\napi migrations: 1 pending \(0002_tags\.sql\)\n/);
    const json = await veza(ws.root, ['diff', env, `--sha=${B}`, '--json'], build);
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual((JSON.parse(json.stdout) as DiffReport).migrations, [{ component: 'api', pending: ['0002_tags.sql'] }]);
    assert.deepEqual(await unchanged(), before);
    assert.deepEqual(await applied(), ['0001'], 'the status command applied nothing');
  });

  await t.test('the dry-run prints them and applies nothing', async () => {
    const o = { ...(await ws.options(B)), dryRun: true };
    await deploy(o);
    assert.deepEqual(diffLine(o.lines).map((l) => l.replace(/^.*?api/, 'api')), ['api migrations: 1 pending (0002_tags.sql)']);
    assert.deepEqual(await applied(), ['0001']);
  });

  await t.test('with the database stopped: unknown (why) in veza diff, and the deploy still goes through', async () => {
    assert.ok(await (await tier()).stop(), 'postgres was running');
    const text = await veza(ws.root, ['diff', env, `--sha=${B}`], build);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /\napi migrations: unknown \(node migrate\.js --status exited 1: migrate: connect ECONNREFUSED [\d.:]+\)\n/);
    const o = await ws.options(B);
    await deploy(o);
    assert.match(diffLine(o.lines).join('\n'), /api migrations: unknown \(.*ECONNREFUSED/);
    assert.equal(await ws.releaseAt('/api/status'), B);
    assert.deepEqual(await applied(), ['0001', '0002_tags']);
  });

  await t.test('once deployed, nothing is pending', async () => {
    const r = await veza(ws.root, ['diff', env, `--sha=${B}`], build);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\napi migrations: none pending\n/);
  });
});
