import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { sha256File, MANIFEST_FILE } from '@veza/engine/artifact/manifest';
import { createDataTier } from '@veza/engine/data/tier';
import { localPgPaths } from '@veza/engine/data/local/postgres';
import { loadWorkspace } from '@veza/engine/config/workspace';
import { deploy } from '@veza/engine/deploy/deploy';
import { assembleRelease, publishRelease } from '@veza/engine/deploy/release';
import { localEdgeDir } from '@veza/engine/edge/local-edge-host';
import { createMemoryLogger } from '@veza/engine/log/logger';
import type { VezaError } from '@veza/engine/log/errors';
import { createLocalRegistry } from '@veza/engine/registry/local-registry';
import { releaseManifestCoords, serializeReleaseManifest, type ReleaseManifest } from '@veza/engine/release/manifest';
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
  await deploy(await ws.options(A));
  await ws.release(B, { api: { schema: '0002' } });
  await deploy(await ws.options(B));
  await ws.release(C, { api: { schema: '0003' } });
  await deploy(await ws.options(C));
  assert.equal(await ws.releaseAt('/api/status'), C);

  const url = await createDataTier((await loadWorkspace(ws.root)).env(ws.env), { workspaceRoot: ws.root }).databaseUrl();
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
    await refused(`unpublished sha, try ${i + 1}`, async () => deploy({ ...(await ws.options(C)), sha: UNPUBLISHED }), (e) => {
      assert.equal(e.code, 'UNKNOWN_RELEASE', e.message);
      assert.match(e.message, new RegExp(`release ${UNPUBLISHED} is not published`));
    });
  }

  // Published releases, each with a newer migration, whose web artifact would reach outside its slot.
  const hostile: [string, string, string, RegExp][] = [
    ['4d'.repeat(20), 'a symlink to /etc', 'ln -s /etc "$1/etc"', /unsafe entry "(\.\/)?etc": .*symlink target "\/etc" is absolute/],
    ['4e'.repeat(20), 'a ../ entry', 'echo out > "$1/../escape"', /unsafe entry "\.\.\/escape"/],
    ['4f'.repeat(20), 'an absolute path', 'echo abs > "$1/../abs"', /unsafe entry "\/\S+\/abs"/],
    ['40'.repeat(20), 'a fifo', 'mkfifo "$1/pipe"', /unsafe entry "(\.\/)?pipe": its type .* is not allowed/],
  ];
  for (const [sha, what, make, entry] of hostile) {
    await publishHostileRelease(ws, sha, make);
    await refused(`an artifact with ${what}`, async () => deploy({ ...(await ws.options(C)), sha }), (e) => {
      assert.equal(e.code, 'ARTIFACT_UNSAFE', e.message);
      assert.match(e.message, new RegExp(`the artifact of web \\(veza/web@${sha.slice(0, 4)}\\S+\\) is refused before anything changes`));
      assert.match(e.message, entry);
    });
  }
  await refused('the first of them from its own checkout', async () => deploy(await ws.options(hostile[0]![0])), (e) => assert.equal(e.code, 'ARTIFACT_UNSAFE', e.message));

  // Manifests that name what this workspace cannot deploy: an undeclared component, an artifact neither the
  // registry nor the deployer's cache holds (the cache is content-addressed: bytes it holds under the sha256 would do).
  const cManifest = JSON.parse(await fs.readFile(join(ws.root, '.veza/registry/veza/generic/veza-release', C, 'release.json'), 'utf8'));
  const GHOST = '41'.repeat(20);
  // Published before manifests carried declarations: nothing says how ghost runs.
  const { declaration: _declaration, ...bareWeb } = cManifest.components.web;
  await publishManifest(ws, { ...cManifest, sha: GHOST, components: { ...cManifest.components, ghost: { ...bareWeb, package: 'ghost' } } });
  await refused('a release holding an undeclared component', async () => deploy({ ...(await ws.options(C)), sha: GHOST }), (e) => {
    assert.equal(e.code, 'BAD_RELEASE', e.message);
    assert.match(e.message, /holds ghost, which this workspace does not declare/);
  });
  const MISNAMED = '43'.repeat(20);
  await publishManifest(ws, { ...cManifest, sha: MISNAMED, components: { ...cManifest.components, ghost: { ...cManifest.components.web, package: 'ghost' } } });
  await refused('a release whose declaration names another component', async () => deploy({ ...(await ws.options(C)), sha: MISNAMED }), (e) => {
    assert.equal(e.code, 'BAD_RELEASE', e.message);
    assert.match(e.message, /ghost\.declaration\.name: declares web, not ghost/);
  });
  const MISSING = '42'.repeat(20);
  await publishManifest(ws, { ...cManifest, sha: MISSING, components: { ...cManifest.components, api: { ...cManifest.components.api, version: MISSING, file: `api-${MISSING}.tar.zst`, sha256: 'e'.repeat(64) } } });
  await refused('a release whose artifact the registry lacks', async () => deploy({ ...(await ws.options(C)), sha: MISSING }), (e) => {
    assert.match(e.message, new RegExp(`api@${MISSING}`));
  });

  // A published release whose registry copy of an artifact was altered after publishing.
  await ws.release(TAMPERED, { api: { schema: '0005' } });
  await publishWorkspaceRelease(ws, TAMPERED);
  const published = join(ws.root, '.veza/registry/veza/generic/api', TAMPERED, `api-${TAMPERED}.tar.zst`);
  const bytes = await fs.readFile(published);
  bytes[bytes.length >> 1] ^= 0xff;
  await fs.writeFile(published, bytes);
  await refused('a tampered published artifact', async () => deploy({ ...(await ws.options(C)), sha: TAMPERED }), (e) => {
    assert.equal(e.code, 'ARTIFACT_MISMATCH', e.message);
    assert.match(e.message, /api@5e5e/);
  });

  const envText = await fs.readFile(envFile, 'utf8');
  const envFileCases: [string, string, RegExp][] = [
    ['an out-of-range subnet', envText.replace('subnet: 127.79.6', 'subnet: 127.79.300'), new RegExp(`${ws.env}\\.yaml:8: local\\.subnet: must be 127\\.<0-255>\\.<0-255>`)],
    ['a port out of range', `${envText}data: { postgres: { port: 99999 } }\n`, new RegExp(`${ws.env}\\.yaml:${envText.split('\n').length}: data\\.postgres\\.port: must be a TCP port`)],
    ['a registry URL that is neither file: nor http(s)', envText.replace('url: "file:.veza/registry"', 'url: "ftp://registry"'), new RegExp(`${ws.env}\\.yaml:7: registry\\.url: must be file:<dir>`)],
    ['an unknown key', `${envText}incus: { project: default, projct: typo }\n`, new RegExp(`${ws.env}\\.yaml:${envText.split('\n').length}: incus\\.projct: unknown key`)],
  ];
  try {
    for (const [what, text, message] of envFileCases) {
      await fs.writeFile(envFile, text);
      await refused(what, async () => deploy(await ws.options(C)), (e) => {
        assert.equal(e.code, 'BAD_CONFIG', e.message);
        assert.match(e.message, message, 'the file and the offending key\'s own line');
      });
    }
  } finally {
    await fs.writeFile(envFile, envText);
  }
  // A component needing a Debian package this machine lacks would fail at its slot's start: refused now.
  // A new release: a published one runs as its manifest declares, whatever the workspace says today.
  const NEEDY = '44'.repeat(20);
  await ws.release(NEEDY);
  const webDecl = join(ws.root, 'apps/web/component.json');
  const declText = await fs.readFile(webDecl, 'utf8');
  const decl = JSON.parse(declText);
  await fs.writeFile(webDecl, JSON.stringify({ ...decl, run: { ...decl.run, needs: ['veza-no-such-package'] } }));
  try {
    await refused('a declared package the machine lacks', async () => deploy(await ws.options(NEEDY)), (e) => {
      assert.equal(e.code, 'MISSING_PACKAGE', e.message);
      assert.match(e.message, /web needs veza-no-such-package/);
    });
  } finally {
    await fs.writeFile(webDecl, declText);
  }

  // Another local environment on the same edge with the same subnet would take this one's addresses.
  const twin = join(ws.root, 'infra/environments/twin.yaml');
  await fs.writeFile(twin, envText.replaceAll(ws.env, 'twin').replace(`edge: twin-edge`, `edge: ${ws.env}-edge`));
  try {
    await refused('an environment sharing the subnet', async () => deploy(await ws.options(C)), (e) => {
      assert.equal(e.code, 'BAD_CONFIG', e.message);
      assert.match(e.message, /local\.subnet 127\.79\.6 gives its \w+ the address 127\.79\.6\.\d+, which the \w+ of environment \S+ already uses/);
    });
  } finally {
    await fs.rm(twin);
  }

  // Still deployable; with retention 1, the snapshots of the new live (GOOD) and previous (C) releases are the ones kept.
  await ws.release(GOOD, { api: { schema: '0004' } });
  await deploy(await ws.options(GOOD));
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
  const manifest = await assembleRelease(ws.root, sha, (await loadWorkspace(ws.root)).components, { owner: 'veza', allowLocalVersions: true, createdAt: new Date(0) });
  await publishRelease(registry, 'veza', manifest);
}

/** Publishes a release manifest as it is, as a registry holding a bad or foreign one would serve it. */
async function publishManifest(ws: E2eWorkspace, manifest: { sha: string }): Promise<void> {
  const file = join(ws.root, 'dist', `release-${manifest.sha}.json`);
  await fs.writeFile(file, serializeReleaseManifest(manifest as ReleaseManifest));
  const { sha256 } = await sha256File(file);
  await createLocalRegistry(join(ws.root, '.veza/registry')).upload(releaseManifestCoords('veza', manifest.sha), file, sha256);
}

/**
 * Release `sha` with a web artifact that `make` (a shell line given the
 * source folder as $1) makes hostile, packed by GNU tar with -P (member
 * names as given, `..` and leading `/` kept) and zstd, as a hostile build would.
 */
async function publishHostileRelease(ws: E2eWorkspace, sha: string, make: string): Promise<void> {
  await ws.release(sha, { api: { schema: '0009' } }, { publish: false });
  const dir = join(ws.root, 'dist/artifacts/web');
  const manifest = JSON.parse(await fs.readFile(join(dir, MANIFEST_FILE), 'utf8'));
  const src = join(ws.root, 'dist/src/web', sha);
  execFileSync('sh', ['-c', make, 'sh', src]);
  const extra = make.includes('../escape') ? ['../escape'] : make.includes('../abs') ? [join(src, '../abs')] : [];
  const file = join(dir, manifest.file);
  execFileSync('sh', ['-c', 'src=$1; out=$2; shift 2; tar --create -P --file - --sort=name -C "$src" . "$@" | zstd -q -f -o "$out"', 'sh', src, file, ...extra]);
  const { sha256, size } = await sha256File(file);
  await fs.writeFile(join(dir, MANIFEST_FILE), JSON.stringify({ ...manifest, sha256, size }, null, 2) + '\n');
  for (const c of ['api', 'web']) await publishArtifact({ workspace: await loadWorkspace(ws.root), project: c, env: ws.env, log: createMemoryLogger() });
  await publishWorkspaceRelease(ws, sha);
}
