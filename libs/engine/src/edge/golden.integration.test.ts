import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Color } from '../config/names';
import { createProcessRunner } from '../ports/process';
import { EDGE_DIR_VAR } from '../config/edge';
import { buildEdgeModel, loadEdgeInputs } from './model';
import { renderHaproxyConfig } from './render';
import { validateHaproxyConfig } from './validate';
import { loadWorkspace } from '../config/workspace';

/**
 * The edges this repository declares, rendered from the real workspace files
 * (infra/edges, infra/environments, apps/*\/component.json). A change to any
 * of them shows up here as a diff; accept it with UPDATE_GOLDEN=1.
 */
const ROOT = resolve(__dirname, '../../../..');
const GOLDEN_DIR = join(__dirname, 'golden');

const CASES: { edge: string; colors: Record<string, Color>; why: string }[] = [
  // staging on green, prod on blue: both orientations of the server flags in one file.
  { edge: 'veza-haproxy', colors: { prod: 'blue', staging: 'green' }, why: 'staging + prod + forgejo + talas + ACME' },
  { edge: 'local-edge', colors: {}, why: 'the laptop edge' },
  { edge: 'veza-lab', colors: {}, why: 'multi-instance lab' },
];

for (const c of CASES) {
  test(`golden: ${c.edge} (${c.why}) renders exactly as recorded`, async () => {
    const text = renderHaproxyConfig(buildEdgeModel(await loadEdgeInputs(await loadWorkspace(ROOT), c.edge), c.colors));
    const file = join(GOLDEN_DIR, `${c.edge}.cfg`);
    if (process.env.UPDATE_GOLDEN === '1') await fs.writeFile(file, text);
    const golden = await fs.readFile(file, 'utf8').catch(() => '');
    assert.equal(text, golden, `${file} is out of date; if the change is intended, re-run with UPDATE_GOLDEN=1 and review the diff`);
  });
}

test('haproxy -c accepts every golden (throwaway certificates where the edge has its own)', async (t) => {
  const edgeDir = await fs.mkdtemp(join(tmpdir(), 'veza-golden-edge-'));
  t.after(() => fs.rm(edgeDir, { recursive: true, force: true }));
  const files = (await fs.readdir(GOLDEN_DIR)).filter((f) => f.endsWith('.cfg')).sort();
  assert.deepEqual(files, CASES.map((c) => `${c.edge}.cfg`).sort());
  for (const f of files) {
    const text = await fs.readFile(join(GOLDEN_DIR, f), 'utf8');
    const res = await validateHaproxyConfig(text, { runner: createProcessRunner(), vars: { [EDGE_DIR_VAR]: edgeDir }, label: f });
    if (f === 'veza-haproxy.cfg') {
      // The edge's Let's Encrypt directory does not exist here: it must have been stood in for, not skipped.
      assert.deepEqual(res.substitutions.map((s) => [s.kind, s.original]), [['cert-dir', '/usr/local/etc/tls/haproxy/']]);
    }
  }
});
