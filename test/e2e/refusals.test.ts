import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { sha256File, MANIFEST_FILE } from '@veza/engine/artifact/manifest';
import { loadComponents } from '@veza/engine/config/component';
import { createDataTier } from '@veza/engine/data/tier';
import { localPgPaths } from '@veza/engine/data/local/postgres';
import { loadEnvironment } from '@veza/engine/config/environment';
import { deploy } from '@veza/engine/deploy/deploy';
import { assembleRelease, publishRelease } from '@veza/engine/deploy/release';
import { localEdgeDir } from '@veza/engine/edge/local-edge-host';
import { createMemoryLogger } from '@veza/engine/log/logger';
import type { VezaError } from '@veza/engine/log/errors';
import { createLocalRegistry } from '@veza/engine/registry/local-registry';
import { publishArtifact } from '@veza/engine/registry/publish-artifact';
import { e2eWorkspace, type E2eWorkspace } from './support/workspace';
import { snapshotTree } from './support/tree';

/**
 * DESIGN.md's first safety rule on a live environment with a database:
 * whatever is wrong with a request — its sha, its release, an artifact's
 * bytes or entries, the environment file — the deploy refuses it before its
 * first side effect. After each refusal every file under .veza/ is
 * byte-identical (the running PostgreSQL's own data folder aside), the same
 * postmaster serves, the migrations table and the snapshots are the same,
 * and the edge config is untouched. Then a good deploy still works, and the
 * snapshots of the live and previous releases survive a retention of 1.
 */
const A = '1a'.repeat(20);
const B = '2b'.repeat(20);
const C = '3c'.repeat(20);
const UNSAFE = '4d'.repeat(20);
const TAMPERED = '5e'.repeat(20);
const UNPUBLISHED = '6f'.repeat(20);
const GOOD = '7a'.repeat(20);

type Coded = VezaError & { code: string };

test('a refused deploy changes nothing: files, database, migrations, snapshots, edge', async (t) => {
  const ws = await e2eWorkspace(t, 'refuse', { octet: 6, database: true });
  const envFile = join(ws.root, `infra/environments/${ws.env}.yaml`);
  await fs.appendFile(envFile, 'retention: { history: 5, snapshots: 1 }\n');
  const pg = localPgPaths(ws.root, ws.env);
  const edgeConfig = join(localEdgeDir(ws.root, `${ws.env}-edge`), 'haproxy.cfg');

  await ws.release(A);
  await deploy(ws.options(A));
  await ws.release(B, { api: { schema: '0002' } });
  await deploy(ws.options(B));
  await ws.release(C, { api: { schema: '0003' } });
  await deploy(ws.options(C));
  assert.equal(await ws.releaseAt('/api/status'), C);

  const url = await createDataTier(await loadEnvironment(ws.root, ws.env), { workspaceRoot: ws.root }).databaseUrl();
  const state = async () => ({
    // The server rewrites its own data folder and log while it runs: those are compared through the pid and the rows.
    tree: await snapshotTree(join(ws.root, '.veza'), (rel) => rel.startsWith(`envs/${ws.env}/data/postgres/`) || rel.startsWith(`envs/${ws.env}/data/log/`)),
    postmaster: (await fs.readFile(join(pg.pgdata, 'postmaster.pid'), 'utf8')).split('\n')[0],
    migrations: await rows(url, 'SELECT version FROM e2e_schema ORDER BY version'),
    snapshots: (await fs.readdir(pg.snapshots)).sort(),
    edge: await fs.readFile(edgeConfig, 'utf8'),
  });
  const before = await state();
  assert.deepEqual(before.migrations, ['0001', '0002', '0003'].map((version) => ({ version })));
  assert.deepEqual(before.snapshots, [`pre-deploy-${B}.dump`, `pre-deploy-${C}.dump`], 'retention 1, yet the live (C) and previous (B) releases keep theirs');

  // The state just before each request: the test itself publishes some releases (as CI would) in between.
  const refused = async (what: string, run: () => Promise<unknown>, check: (e: Coded) => void) => {
    const now = await state();
    const err = await run().then(() => undefined, (e: Coded) => e);
    assert.ok(err, `${what}: refused`);
    check(err);
    assert.deepEqual(await state(), now, `${what}: nothing changed`);
    assert.deepEqual([now.postmaster, now.migrations, now.snapshots, now.edge], [before.postmaster, before.migrations, before.snapshots, before.edge]);
    assert.equal(await ws.releaseAt('/api/status'), C, `${what}: the live release still serves`);
  };

  for (let i = 0; i < 3; i++) {
    await refused(`unpublished sha, try ${i + 1}`, () => deploy({ ...ws.options(C), sha: UNPUBLISHED }), (e) => {
      assert.equal(e.code, 'UNKNOWN_RELEASE', e.message);
      assert.match(e.message, new RegExp(`release ${UNPUBLISHED} is not published`));
    });
  }

  // A published release with a newer migration whose web artifact links out of its slot.
  await publishUnsafeRelease(ws, UNSAFE);
  await refused('an artifact linking to /etc', () => deploy({ ...ws.options(C), sha: UNSAFE }), (e) => {
    assert.equal(e.code, 'ARTIFACT_UNSAFE', e.message);
    assert.match(e.message, /the artifact of web \(veza\/web@4d4d\S+\) is refused before anything changes: .*unsafe entry "(\.\/)?etc": .*symlink target "\/etc" is absolute/);
  });
  await refused('the same release from its checkout', () => deploy(ws.options(UNSAFE)), (e) => assert.equal(e.code, 'ARTIFACT_UNSAFE', e.message));

  // A published release whose registry copy of an artifact was altered after publishing.
  await ws.release(TAMPERED, { api: { schema: '0005' } });
  await publishWorkspaceRelease(ws, TAMPERED);
  const published = join(ws.root, '.veza/registry/veza/generic/api', TAMPERED, `api-${TAMPERED}.tar.zst`);
  const bytes = await fs.readFile(published);
  bytes[bytes.length >> 1] ^= 0xff;
  await fs.writeFile(published, bytes);
  await refused('a tampered published artifact', () => deploy({ ...ws.options(C), sha: TAMPERED }), (e) => {
    assert.equal(e.code, 'ARTIFACT_MISMATCH', e.message);
    assert.match(e.message, /api@5e5e/);
  });

  const envText = await fs.readFile(envFile, 'utf8');
  try {
    await fs.writeFile(envFile, envText.replace('subnet: 127.79.6', 'subnet: 127.79.300'));
    await refused('an out-of-range subnet', () => deploy(ws.options(C)), (e) => {
      assert.equal(e.code, 'BAD_CONFIG');
      assert.match(e.message, new RegExp(`infra/environments/${ws.env}\\.yaml:8: local\\.subnet: must be 127\\.<0-255>\\.<0-255>`));
    });
    await fs.writeFile(envFile, `${envText}incus: { project: default, projct: typo }\n`);
    await refused('an unknown key', () => deploy(ws.options(C)), (e) => {
      const line = envText.split('\n').length;
      assert.match(e.message, new RegExp(`${ws.env}\\.yaml:${line}: incus\\.projct: unknown key`), 'the line is the unknown key\'s own');
    });
  } finally {
    await fs.writeFile(envFile, envText);
  }

  // Still deployable; with retention 1, the snapshots of the new live (GOOD) and previous (C) releases are the ones kept.
  await ws.release(GOOD, { api: { schema: '0004' } });
  await deploy(ws.options(GOOD));
  assert.equal(await ws.releaseAt('/api/status'), GOOD);
  assert.deepEqual((await fs.readdir(pg.snapshots)).sort(), [`pre-deploy-${C}.dump`, `pre-deploy-${GOOD}.dump`]);
  assert.deepEqual((await rows(url, 'SELECT version FROM e2e_schema ORDER BY version')).map((r) => r.version), ['0001', '0002', '0003', '0004']);
});

async function rows(url: string, sql: string): Promise<Record<string, unknown>[]> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(sql)).rows;
  } finally {
    await c.end();
  }
}

/** Publishes the artifacts dist/ holds and their release manifest, as CI's build job would. */
async function publishWorkspaceRelease(ws: E2eWorkspace, sha: string): Promise<void> {
  const registry = createLocalRegistry(join(ws.root, '.veza/registry'));
  const manifest = await assembleRelease(ws.root, sha, await loadComponents(ws.root), { owner: 'veza', allowLocalVersions: true, createdAt: new Date(0) });
  await publishRelease(registry, 'veza', manifest);
}

/** Release `sha` with a web artifact holding `etc -> /etc`, packed by GNU tar and zstd as a hostile build would. */
async function publishUnsafeRelease(ws: E2eWorkspace, sha: string): Promise<void> {
  await ws.release(sha, { api: { schema: '0009' } }, { publish: false });
  const dir = join(ws.root, 'dist/artifacts/web');
  const manifest = JSON.parse(await fs.readFile(join(dir, MANIFEST_FILE), 'utf8'));
  const src = join(ws.root, 'dist/src/web', sha);
  await fs.symlink('/etc', join(src, 'etc'));
  const file = join(dir, manifest.file);
  execFileSync('sh', ['-c', 'tar --create --file - --sort=name -C "$1" . | zstd -q -f -o "$2"', 'sh', src, file]);
  const { sha256, size } = await sha256File(file);
  await fs.writeFile(join(dir, MANIFEST_FILE), JSON.stringify({ ...manifest, sha256, size }, null, 2) + '\n');
  for (const c of ['api', 'web']) await publishArtifact({ workspaceRoot: ws.root, project: c, envName: ws.env, log: createMemoryLogger() });
  await publishWorkspaceRelease(ws, sha);
}

