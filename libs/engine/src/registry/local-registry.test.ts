import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs, constants, openSync, writeSync, closeSync } from 'node:fs';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { environmentSchema } from '../config/environment';
import { createLocalRegistry } from './local-registry';
import { createRegistry } from './registry';
import type { ArtifactCoords } from './coords';
import { artifactFile, listFiles, rejection, sha256, tempDir } from './testing/fixtures';

const coords: ArtifactCoords = { owner: 'veza', package: 'veza-api', version: 'local-0123456789ab', file: 'veza-api.tar.zst' };
const layoutPath = (root: string) => join(root, 'veza', 'generic', 'veza-api', 'local-0123456789ab', 'veza-api.tar.zst');

test('file: registry URLs resolve against the workspace root and accept local-* versions', async (t) => {
  const ws = await tempDir(t);
  const env = environmentSchema.parse({
    name: 'local', driver: 'local', prefix: 'veza-local-', publicHosts: ['localhost'], publicUrl: 'http://localhost:1',
    edge: 'e', registry: { url: 'file:.veza/registry', owner: 'veza' }, local: { subnet: '127.77.1' },
  });
  const reg = createRegistry(env, ws, { processEnv: {} });
  assert.equal(reg.kind, 'file');
  assert.equal(reg.describe(), `local registry ${join(ws, '.veza/registry')}`);
  const a = await artifactFile(ws, 'a.tar.zst');
  assert.equal(await reg.upload(coords, a.path, a.sha256), 'created');
  assert.equal(sha256(await fs.readFile(layoutPath(join(ws, '.veza/registry')))), a.sha256);
});

test('upload places the file in the Forgejo layout; the same bytes again are "exists"', async (t) => {
  const dir = await tempDir(t);
  const root = join(dir, 'registry');
  const a = await artifactFile(dir, 'a.tar.zst');
  const reg = createLocalRegistry(root);
  assert.equal(await reg.remoteSha256(coords), undefined);
  assert.equal(await reg.upload(coords, a.path, a.sha256), 'created');
  assert.equal(await reg.upload(coords, a.path, a.sha256), 'exists');
  assert.equal(await reg.remoteSha256(coords), a.sha256);
  assert.deepEqual(await listFiles(root), ['veza/generic/veza-api/local-0123456789ab/veza-api.tar.zst']);
});

test('different bytes under a published version are refused and the published file is untouched', async (t) => {
  const dir = await tempDir(t);
  const root = join(dir, 'registry');
  const first = await artifactFile(dir, 'first.tar.zst');
  const second = await artifactFile(dir, 'second.tar.zst');
  const reg = createLocalRegistry(root);
  await reg.upload(coords, first.path, first.sha256);
  const r = await rejection(reg.upload(coords, second.path, second.sha256));
  assert.equal(r.code, 'ARTIFACT_IMMUTABLE');
  assert.match(r.line, /already published with different content.*immutable/);
  assert.equal(sha256(await fs.readFile(layoutPath(root))), first.sha256);
});

test('an upload whose bytes do not match the given sha256 fails and leaves no file anywhere in the registry', async (t) => {
  const dir = await tempDir(t);
  const root = join(dir, 'registry');
  const a = await artifactFile(dir, 'a.tar.zst');
  const r = await rejection(createLocalRegistry(root).upload(coords, a.path, 'f'.repeat(64)));
  assert.equal(r.code, 'ARTIFACT_MISMATCH');
  assert.deepEqual(await listFiles(root), []);
});

test('an upload SIGKILLed mid-copy leaves nothing under the layout, and a later upload succeeds', async (t) => {
  const dir = await tempDir(t);
  const root = join(dir, 'registry');
  const a = await artifactFile(dir, 'a.tar.zst');
  // A FIFO as the source holds the child mid-copy for as long as we like: no timing race.
  const fifo = join(dir, 'source.fifo');
  execFileSync('mkfifo', [fifo]);
  const child = spawn(process.execPath, ['--require', '@swc-node/register', join(__dirname, 'testing', 'local-upload-child.ts'), root, fifo, a.sha256], {
    stdio: 'ignore',
  });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  let fd: number | undefined;
  t.after(() => {
    if (fd !== undefined) closeSync(fd);
  });
  for (let i = 0; i < 400 && fd === undefined; i++) {
    try {
      fd = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENXIO') throw e;
      await sleep(25);
    }
  }
  assert.ok(fd !== undefined, 'the child opened its source');
  const sent = writeSync(fd, a.data.subarray(0, 16 * 1024));

  const incoming = join(root, '.incoming');
  let partial = 0;
  for (let i = 0; i < 400 && partial < sent; i++) {
    const [tmp] = await listFiles(incoming);
    partial = tmp ? (await fs.stat(join(incoming, tmp))).size : 0;
    if (partial < sent) await sleep(25);
  }
  assert.equal(partial, sent, 'the child was mid-copy');

  child.kill('SIGKILL');
  await once(child, 'exit');
  const visible = (await listFiles(root)).filter((f) => !f.startsWith('.incoming/'));
  assert.deepEqual(visible, [], 'no partial file under the layout');

  assert.equal(await createLocalRegistry(root).upload(coords, a.path, a.sha256), 'created');
  assert.equal(sha256(await fs.readFile(layoutPath(root))), a.sha256);
});

test('download verifies before placing; a sha mismatch leaves nothing at the destination', async (t) => {
  const dir = await tempDir(t);
  const root = join(dir, 'registry');
  const a = await artifactFile(dir, 'a.tar.zst');
  const reg = createLocalRegistry(root);
  await reg.upload(coords, a.path, a.sha256);

  const outDir = join(dir, 'out');
  await reg.download(coords, join(outDir, 'ok.tar.zst'), a.sha256);
  assert.equal(sha256(await fs.readFile(join(outDir, 'ok.tar.zst'))), a.sha256);

  const r = await rejection(reg.download(coords, join(outDir, 'bad.tar.zst'), 'e'.repeat(64)));
  assert.equal(r.code, 'ARTIFACT_MISMATCH');
  assert.match(r.line, /nothing was written/);
  assert.deepEqual(await listFiles(outDir), ['ok.tar.zst']);

  const missing = await rejection(reg.download({ ...coords, file: 'nope.tar.zst' }, join(outDir, 'n'), a.sha256));
  assert.equal(missing.code, 'ARTIFACT_NOT_FOUND');
});

test('names that could escape the layout are refused before touching the disk', async (t) => {
  const dir = await tempDir(t);
  const root = join(dir, 'registry');
  const a = await artifactFile(dir, 'a.tar.zst');
  const reg = createLocalRegistry(root);
  for (const bad of [{ file: '../x' }, { file: '.hidden' }, { package: '../veza' }, { owner: '..' }, { version: '1.0' }, { version: '../../etc' }]) {
    const r = await rejection(reg.upload({ ...coords, ...bad }, a.path, a.sha256));
    assert.equal(r.code, 'INVALID_INPUT', JSON.stringify(bad));
  }
  assert.deepEqual(await listFiles(root), []);
});

test('a missing source file is a clear error, not a crash', async (t) => {
  const dir = await tempDir(t);
  const r = await rejection(createLocalRegistry(join(dir, 'registry')).upload(coords, join(dir, 'absent.tar.zst'), 'a'.repeat(64)));
  assert.equal(r.code, 'MISSING_ARTIFACT');
  assert.match(r.line, /absent\.tar\.zst: ENOENT/);
});
