import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { VezaError } from '../log/errors';
import { loadPackageManifest, sha256File } from './manifest';
import { packageComponent } from './package-component';
import { unpackArtifact } from './unpack';
import { snapshot, tempDir, writeTree } from './testing/helpers';

const SHA = '0123456789abcdef0123456789abcdef01234567';

async function buildOutput(t: Parameters<typeof tempDir>[0], info: unknown = { component: 'veza-api', package: 'veza-api', version: SHA, preset: 'node' }) {
  const ws = await tempDir(t);
  const buildDir = join(ws, 'dist/build/veza-api');
  await writeTree(join(buildDir, 'root'), { 'main.js': 'console.log(1)\n', 'migrations/001.sql': 'create table t();\n' });
  await fs.writeFile(join(buildDir, 'build.json'), JSON.stringify(info));
  return { ws, buildDir, outDir: join(ws, 'dist/artifacts/veza-api') };
}

test('packages the build output into <package>-<version>.tar.zst and a manifest that matches it', async (t) => {
  const { ws, buildDir, outDir } = await buildOutput(t);
  await fs.mkdir(outDir, { recursive: true });
  await fs.writeFile(join(outDir, 'stale-old.tar.zst'), 'left by an earlier run');

  const m = await packageComponent({ workspaceRoot: ws, project: 'veza-api' });
  assert.equal(m.file, `veza-api-${SHA}.tar.zst`);
  assert.deepEqual((await fs.readdir(outDir)).sort(), ['manifest.json', m.file]);
  assert.deepEqual(await loadPackageManifest(join(outDir, 'manifest.json')), m);
  assert.deepEqual(await sha256File(join(outDir, m.file)), { sha256: m.sha256, size: m.size });
  assert.equal(m.fileCount, 2);

  const dest = join(outDir, '..', 'unpacked');
  await unpackArtifact({ file: join(outDir, m.file), sha256: m.sha256, dest });
  assert.deepEqual(await snapshot(dest), await snapshot(join(buildDir, 'root')));
});

test('two uncached package runs give byte-identical archives', async (t) => {
  const { ws, buildDir, outDir } = await buildOutput(t);
  const first = await packageComponent({ workspaceRoot: ws, project: 'veza-api' });
  const bytes = await fs.readFile(join(outDir, first.file));
  await fs.utimes(join(buildDir, 'root/main.js'), new Date(), new Date(Date.now() + 60_000));
  const second = await packageComponent({ workspaceRoot: ws, project: 'veza-api' });
  assert.deepEqual(second, first);
  assert.deepEqual(await fs.readFile(join(outDir, second.file)), bytes);
});

test('a missing or unreadable build output is refused with the command to run, before any output is touched', async (t) => {
  const expectRefusal = async (ws: string, pattern: RegExp) => {
    await assert.rejects(packageComponent({ workspaceRoot: ws, project: 'veza-api' }), (e: unknown) => {
      assert.ok(e instanceof VezaError);
      assert.equal(e.code, 'NO_BUILD');
      assert.match(e.toLine(), pattern);
      assert.match(e.toLine(), / — .*npx nx run veza-api:build/);
      return true;
    });
    await assert.rejects(fs.lstat(join(ws, 'dist/artifacts')), { code: 'ENOENT' });
  };
  const missing = await buildOutput(t);
  await fs.rm(join(missing.buildDir, 'build.json'));
  await expectRefusal(missing.ws, /build\.json does not exist/);

  const garbled = await buildOutput(t);
  await fs.writeFile(join(garbled.buildDir, 'build.json'), '{ nope');
  await expectRefusal(garbled.ws, /build\.json is unreadable: .*JSON/);

  const badVersion = await buildOutput(t, { component: 'veza-api', package: 'veza-api', version: 'latest', preset: 'node' });
  await expectRefusal(badVersion.ws, /build\.json is not a build record for veza-api/);

  const noRoot = await buildOutput(t);
  await fs.rm(join(noRoot.buildDir, 'root'), { recursive: true });
  await expectRefusal(noRoot.ws, /root is missing/);
});
