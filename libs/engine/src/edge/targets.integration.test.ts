import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { createMemoryLogger } from '../log/logger';
import { createProcessRunner } from '../ports/process';
import { parseColors, renderEdgeFiles, renderedPath, validateEdgeFiles } from './targets';
import { createEdgeWorkspace } from './testing/edge-fixture';
import { loadWorkspace } from '../config/workspace';

test('render writes dist/edge/<edge>/haproxy.cfg on declared defaults, validate proves it with haproxy -c', async (t) => {
  const fx = await createEdgeWorkspace({ octet: 83, envs: [{ name: 'alpha', sub: 1, hosts: ['alpha.test'] }], edgePort: 18990 });
  t.after(() => fx.remove());
  const log = createMemoryLogger();
  const [file] = await renderEdgeFiles({ workspace: await loadWorkspace(fx.root), log });
  assert.equal(file, renderedPath(fx.root, 'local-edge'));
  const text = await fs.readFile(file!, 'utf8');
  assert.match(text, /^# environments: alpha=blue$/m);
  await renderEdgeFiles({ workspace: await loadWorkspace(fx.root), colors: parseColors('alpha=green'), log });
  assert.match(await fs.readFile(file!, 'utf8'), /^# environments: alpha=green$/m);
  await validateEdgeFiles({ workspace: await loadWorkspace(fx.root), env: 'alpha', runner: createProcessRunner(), log });
  assert.ok(log.lines.some((l) => l === 'haproxy -c accepts dist/edge/local-edge/haproxy.cfg'));

  await fs.writeFile(file!, text.replace('  balance roundrobin', '  balance sideways'));
  await assert.rejects(validateEdgeFiles({ workspace: await loadWorkspace(fx.root), runner: createProcessRunner(), log }), /haproxy -c rejected dist\/edge\/local-edge\/haproxy\.cfg: ALERT: .*:34\] : balance only supports/);
  await fs.rm(file!);
  await assert.rejects(validateEdgeFiles({ workspace: await loadWorkspace(fx.root), runner: createProcessRunner(), log }), /does not exist/);
});

test('explicit colours are env=colour pairs', () => {
  assert.deepEqual(parseColors('staging=green, prod=blue'), { staging: 'green', prod: 'blue' });
  assert.deepEqual(parseColors(undefined), {});
  assert.throws(() => parseColors('staging=purple'), /invalid colour "purple"/);
  assert.throws(() => parseColors('staging'), /invalid colour assignment/);
});
