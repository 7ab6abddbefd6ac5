import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { stringify } from 'yaml';
import { createMemoryLogger } from '../log/logger';
import { isVezaError } from '../log/errors';
import { loadWorkspace } from '../config/workspace';
import { publishArtifact } from './publish-artifact';
import type { PackageManifest } from '../artifact/manifest';
import { startForgejoDouble, type ForgejoDouble } from './testing/forgejo-double';
import { FAST_RETRY, TOKEN, TOKEN_ENV, forgejoEnvironment, sha256, tempDir } from './testing/fixtures';

const SHA = '0123456789abcdef0123456789abcdef01234567';
const LOCAL_VERSION = 'local-0123456789ab';

interface Workspace {
  root: string;
  double: ForgejoDouble;
  artifact: Buffer;
  /** Writes the archive (named for its version, as the packager does) and its manifest. */
  writeManifest(patch?: Partial<PackageManifest>): Promise<void>;
  artifactPath(version?: string): string;
}

/** A workspace with a `remote` (Forgejo double) and a `local` (directory) environment and one packaged artifact. */
async function workspace(t: { after(fn: () => Promise<void>): void }): Promise<Workspace> {
  const root = await tempDir(t, 'veza-publish-');
  const double = await startForgejoDouble({ tokens: { [TOKEN]: ['write:package'] } });
  t.after(() => double.close());
  const envDir = join(root, 'infra/environments');
  await fs.mkdir(envDir, { recursive: true });
  await fs.writeFile(join(envDir, 'remote.yaml'), stringify(forgejoEnvironment(double.baseUrl)));
  await fs.writeFile(join(envDir, 'local.yaml'), stringify({
    name: 'local', driver: 'local', prefix: 'veza-local-', publicHosts: ['localhost'], publicUrl: 'http://localhost:18080',
    edge: 'local-edge', registry: { url: 'file:.veza/registry', owner: 'veza' }, local: { subnet: '127.77.1' },
  }));
  // An environment must name an existing edge file, even for a publish.
  await fs.mkdir(join(root, 'infra/edges'));
  for (const edge of ['local-edge', 'test-edge']) await fs.writeFile(join(root, `infra/edges/${edge}.yaml`), stringify({ name: edge, host: 'incus', runtime: { socketDir: '/run/haproxy' } }));
  const dir = join(root, 'dist/artifacts/veza-api');
  await fs.mkdir(dir, { recursive: true });
  const data = randomBytes(300 * 1024);
  const artifactPath = (version = SHA) => join(dir, `veza-api-${version}.tar.zst`);
  const writeManifest = async (patch: Partial<PackageManifest> = {}) => {
    const version = patch.version ?? SHA;
    await fs.writeFile(artifactPath(version), data);
    const manifest: PackageManifest = {
      component: 'veza-api', package: 'veza-api', version, file: `veza-api-${version}.tar.zst`,
      sha256: sha256(data), size: data.length, fileCount: 3, ...patch,
    };
    await fs.writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest));
  };
  await writeManifest();
  return { root, double, artifact: data, writeManifest, artifactPath };
}

function publish(ws: Workspace, envName: string, processEnv: NodeJS.ProcessEnv = { [TOKEN_ENV]: TOKEN }) {
  const log = createMemoryLogger();
  const run = loadWorkspace(ws.root).then((workspace) => publishArtifact({ workspace, project: 'veza-api', env: envName, log, processEnv, retry: FAST_RETRY }));
  return { run, log };
}

async function refusedBeforeAnyRequest(ws: Workspace, envName: string, code: string, re: RegExp, processEnv?: NodeJS.ProcessEnv) {
  try {
    await publish(ws, envName, processEnv).run;
    assert.fail('expected publish to be refused');
  } catch (e) {
    assert.ok(isVezaError(e), `expected a VezaError, got ${String(e)}`);
    assert.equal(e.code, code, e.toLine());
    assert.match(e.toLine(), re);
  }
  assert.deepEqual(ws.double.requests, [], 'no request reached the registry');
}

test('publishes to the local directory registry, then a re-run is a no-op', async (t) => {
  const ws = await workspace(t);
  await ws.writeManifest({ version: LOCAL_VERSION });
  const first = publish(ws, 'local');
  assert.equal((await first.run).status, 'created');
  const stored = join(ws.root, '.veza/registry/veza/generic/veza-api', LOCAL_VERSION, `veza-api-${LOCAL_VERSION}.tar.zst`);
  assert.deepEqual(await fs.readFile(stored), ws.artifact);
  const second = publish(ws, 'local');
  assert.equal((await second.run).status, 'exists');
  assert.match(second.log.lines.join('\n'), /already published with identical content/);
});

test('publishes to Forgejo with the token, which no log line carries', async (t) => {
  const ws = await workspace(t);
  const { run, log } = publish(ws, 'remote');
  const result = await run;
  assert.equal(result.status, 'created');
  assert.deepEqual(result.coords, { owner: 'veza', package: 'veza-api', version: SHA, file: `veza-api-${SHA}.tar.zst` });
  assert.deepEqual(ws.double.stored(result.coords), ws.artifact);
  assert.ok(log.lines.length > 0);
  for (const line of log.lines) assert.ok(!line.includes(TOKEN) && !line.includes('***'), line);
});

test('a local-* version is refused for Forgejo before any request', async (t) => {
  const ws = await workspace(t);
  await ws.writeManifest({ version: LOCAL_VERSION });
  await refusedBeforeAnyRequest(ws, 'remote', 'INVALID_INPUT', /local-\* versions are only for the local registry/);
});

test('a version that is neither a SHA nor local-* is refused before any request', async (t) => {
  const ws = await workspace(t);
  await ws.writeManifest({ version: 'v1.2.3' });
  await refusedBeforeAnyRequest(ws, 'remote', 'BAD_ARTIFACT', /manifest\.json: version: must be a 40-hex git sha or local-<12 hex>/);
});

test('a missing token variable is refused before any request, naming the variable but no value', async (t) => {
  const ws = await workspace(t);
  await refusedBeforeAnyRequest(ws, 'remote', 'MISSING_SECRET', new RegExp(`${TOKEN_ENV} is not set`), {});
});

test('an archive that no longer matches its manifest is refused before any request', async (t) => {
  const ws = await workspace(t);
  await fs.appendFile(ws.artifactPath(), 'x');
  await refusedBeforeAnyRequest(ws, 'remote', 'ARTIFACT_MISMATCH', /does not match its manifest.*package it again/);
});

test('a missing manifest, a missing archive and a malformed manifest are refused before any request', async (t) => {
  const ws = await workspace(t);
  await fs.rm(ws.artifactPath());
  await refusedBeforeAnyRequest(ws, 'remote', 'MISSING_ARTIFACT', /veza-api-[0-9a-f]{40}\.tar\.zst, named by its manifest, is missing/);
  await ws.writeManifest({ sha256: 'nope' });
  await refusedBeforeAnyRequest(ws, 'remote', 'BAD_ARTIFACT', /manifest\.json: sha256: /);
  await ws.writeManifest({ component: 'veza-web' });
  await refusedBeforeAnyRequest(ws, 'remote', 'BAD_ARTIFACT', /describes component "veza-web", not "veza-api"/);
  await fs.rm(join(ws.root, 'dist/artifacts/veza-api/manifest.json'));
  await refusedBeforeAnyRequest(ws, 'remote', 'MISSING_ARTIFACT', /no artifact manifest.*nx run veza-api:package/);
});

test('an unknown environment is refused before any request', async (t) => {
  const ws = await workspace(t);
  await refusedBeforeAnyRequest(ws, 'nowhere', 'UNKNOWN_ENV', /unknown environment "nowhere".*local, remote/);
});
