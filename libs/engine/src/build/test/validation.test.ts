import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { VezaError } from '../../log/errors';
import { fixtureWorkspace, run } from './workspace';

type Expect = { code: string; message: RegExp; hint?: RegExp };

/** Every refusal comes before the first side effect: no dist/ appears at all. */
async function refused(ws: Awaited<ReturnType<typeof fixtureWorkspace>>, expect: Expect): Promise<void> {
  await assert.rejects(ws.build(), (e: unknown) => {
    assert.ok(e instanceof VezaError, String(e));
    assert.equal(e.code, expect.code);
    assert.match(e.message, expect.message);
    if (expect.hint) assert.match(e.hint, expect.hint);
    return true;
  });
  await assert.rejects(fs.stat(join(ws.root, 'dist')), { code: 'ENOENT' });
}

const node = (build: Record<string, unknown>) => ({ name: 'veza-api', build: { preset: 'node', ...build }, run });

test('a missing entry file is named before anything runs', async (t) => {
  const ws = await fixtureWorkspace(t, 'node', node({ entries: { server: 'src/nope.ts' } }));
  await refused(ws, { code: 'BAD_COMPONENT', message: /apps\/veza-api\/component\.json: build\.entries\.server: apps\/veza-api\/src\/nope\.ts does not exist/ });
});

test('an entry that is not a readable file is named before anything runs', async (t) => {
  // root reads everything regardless of mode; a folder in place of the file is unreadable as a source for anyone.
  const ws = await fixtureWorkspace(t, 'node', node({ entries: { server: 'src' } }));
  await refused(ws, { code: 'BAD_COMPONENT', message: /build\.entries\.server: apps\/veza-api\/src is not a file/ });
});

test('paths leaving the project folder are refused', async (t) => {
  for (const bad of ['../other/x.ts', '/etc/passwd', 'src/../../x.ts']) {
    const ws = await fixtureWorkspace(t, 'node', node({ entries: { server: bad } }));
    await refused(ws, { code: 'BAD_COMPONENT', message: /is outside the project folder/ });
  }
  const ws = await fixtureWorkspace(t, 'node', node({ entries: { server: 'src/main.ts' }, assets: ['../../etc'] }));
  await refused(ws, { code: 'BAD_COMPONENT', message: /build\.assets \(\.\.\/\.\.\/etc\) "\.\.\/\.\.\/etc" is outside/ });
});

test('a missing asset is refused', async (t) => {
  const ws = await fixtureWorkspace(t, 'node', node({ entries: { server: 'src/main.ts' }, assets: ['static'] }));
  await refused(ws, { code: 'BAD_COMPONENT', message: /build\.assets \(static\): apps\/veza-api\/static does not exist/ });
});

test('two outputs with one name are refused', async (t) => {
  const ws = await fixtureWorkspace(t, 'node', node({ entries: { server: 'src/main.ts' }, assets: ['src/server.js'] }));
  await refused(ws, { code: 'BAD_COMPONENT', message: /build\.entries\.server and build\.assets \(src\/server\.js\) both produce "server\.js"/ });
});

test('a preset refuses the fields of another preset, and needs its own', async (t) => {
  const goWithEntries = await fixtureWorkspace(t, 'go', { name: 'veza-api', build: { preset: 'go', binaries: ['veza-api'], entries: { server: 'x.ts' } }, run });
  await refused(goWithEntries, { code: 'BAD_COMPONENT', message: /build\.entries is not used by the go preset/ });
  const nodeWithout = await fixtureWorkspace(t, 'node', node({}));
  await refused(nodeWithout, { code: 'BAD_COMPONENT', message: /the node preset needs build\.entries/ });
  const goMissingCmd = await fixtureWorkspace(t, 'go', { name: 'veza-api', build: { preset: 'go', binaries: ['nope'] }, run });
  await refused(goMissingCmd, { code: 'BAD_COMPONENT', message: /build\.binaries \(nope\): apps\/veza-api\/cmd\/nope does not exist/ });
});

test('a missing toolchain names the component and what to install', async (t) => {
  const go = await fixtureWorkspace(t, 'go', { name: 'veza-api', build: { preset: 'go', binaries: ['veza-api'] }, run }, { PATH: '/nonexistent' });
  await refused(go, { code: 'MISSING_TOOLCHAIN', message: /^veza-api: cannot build: go not found on PATH$/, hint: /install the Go toolchain/ });
  const cargo = await fixtureWorkspace(t, 'cargo', { name: 'veza-stream', build: { preset: 'cargo', binaries: ['probe'] }, run },
    { PATH: '/nonexistent', CARGO_HOME: '/nonexistent/cargo' });
  await refused(cargo, { code: 'MISSING_TOOLCHAIN', message: /^veza-stream: cannot build: cargo not found \(looked on PATH and in \/nonexistent\/cargo\/bin\)/, hint: /rustup/ });
});

test('a vite component needs its vite.config.ts', async (t) => {
  const ws = await fixtureWorkspace(t, 'vite', { name: 'veza-web', build: { preset: 'vite' }, run });
  await fs.rm(join(ws.projectRoot, 'vite.config.ts'));
  await refused(ws, { code: 'BAD_COMPONENT', message: /apps\/veza-web\/vite\.config\.ts does not exist/ });
});

test('a bad release sha is refused before the build', async (t) => {
  const ws = await fixtureWorkspace(t, 'node', node({ entries: { server: 'src/main.ts' } }), { VEZA_RELEASE_SHA: 'main' });
  await refused(ws, { code: 'INVALID_INPUT', message: /VEZA_RELEASE_SHA="main" is not a 40-hex git sha/ });
});
