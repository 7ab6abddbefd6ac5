import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { fixtureWorkspace, listTree, RELEASE, run } from './workspace';

test('vite preset: the SPA under public/ with the release sha baked in, and the bundled server', async (t) => {
  const ws = await fixtureWorkspace(t, 'vite', { name: 'veza-web', build: { preset: 'vite', entries: { server: 'server/serve.ts' } }, run });
  const plan = await ws.build();
  const files = await listTree(plan.paths.rootDir);
  assert.ok(files.includes('public/index.html'), files.join(', '));
  assert.ok(files.includes('server.js'));
  const scripts = files.filter((f) => /^public\/assets\/.*\.js$/.test(f));
  assert.equal(scripts.length, 1, files.join(', '));
  assert.match(await fs.readFile(join(plan.paths.rootDir, scripts[0]), 'utf8'), new RegExp(`"release ${RELEASE}"`));
  assert.match(await fs.readFile(join(plan.paths.rootDir, 'public', 'index.html'), 'utf8'), new RegExp(scripts[0].replace('public', '')));
  // The vite config is loaded without leaving anything in the source tree.
  assert.deepEqual((await fs.readdir(ws.projectRoot)).sort(), ['component.json', 'index.html', 'server', 'src', 'vite.config.ts']);
});
