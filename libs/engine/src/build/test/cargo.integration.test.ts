import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { fixtureWorkspace, listTree, run } from './workspace';

test('cargo preset: tests, release build, each listed binary copied and runnable', async (t) => {
  const ws = await fixtureWorkspace(t, 'cargo', { name: 'veza-stream', build: { preset: 'cargo', binaries: ['veza-stream', 'probe'] }, run });
  const plan = await ws.build();
  const root = plan.paths.rootDir;
  assert.deepEqual(await listTree(root), ['probe', 'veza-stream']);
  for (const bin of ['veza-stream', 'probe']) {
    const st = await fs.stat(join(root, bin));
    assert.equal(st.mode & 0o777, 0o755);
    assert.equal(execFileSync(join(root, bin), { encoding: 'utf8' }).trim(), `${bin}: fixture ok`);
  }
  assert.ok(ws.log.lines.some((l) => /cargo test --locked/.test(l)), 'cargo test ran');
  assert.equal(JSON.parse(await fs.readFile(plan.paths.recordFile, 'utf8')).preset, 'cargo');
  // The target dir is a cache outside the project, so the source tree stays as it was.
  assert.deepEqual((await fs.readdir(ws.projectRoot)).sort(), ['Cargo.lock', 'Cargo.toml', 'component.json', 'src']);
});
