import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { ExecutorContext } from '@nx/devkit';
import dataOpsExecutor from './executor';
import dataProvisionExecutor from '../data-provision/executor';
import { captureExecutor } from '../../testing/capture';

/**
 * The bad input, through the commands people type
 * (`infra-data:provision`, `infra-data:drill`, …): HA settings that cannot
 * work fail the command with the environment file's line, before anything
 * exists on disk — no .veza folder, no process.
 */
const ENV = ['name: ha', 'driver: local', 'prefix: veza-ha-', 'publicHosts: [localhost]', 'publicUrl: http://localhost:1', 'edge: e',
  "registry: { url: 'file:r', owner: veza }", 'local: { subnet: 127.79.96 }', 'data:', '  postgres:', '    topology: ha'].join('\n') + '\n';

const BAD: [string, string, RegExp][] = [
  ['one node', '    ha:\n      nodes: 1\n', /ha\.yaml:13: data\.postgres\.ha\.nodes: an HA formation needs at least 2 data nodes/],
  ['a pool bigger than max_connections', '    maxConnections: 40\n    ha:\n      pgbouncer:\n        poolSize: 50\n', /ha\.yaml:15: data\.postgres\.ha\.pgbouncer\.poolSize: poolSize \+ reservePoolSize \(60\) must stay below data\.postgres\.maxConnections \(40\)/],
  ['retention 0', '    ha:\n      backup:\n        retentionDiff: 0\n', /ha\.yaml:14: data\.postgres\.ha\.backup\.retentionDiff: retention must keep at least 1 diff backup/],
  ['a repository path that is not absolute', '    ha:\n      backup:\n        repository: { path: var/backups }\n', /ha\.yaml:14: data\.postgres\.ha\.backup\.repository\.path: must be an absolute path/],
];

async function workspace(t: { after(fn: () => unknown): void }, data: string): Promise<string> {
  const root = await fs.mkdtemp(join(tmpdir(), 'veza-data-refusals-'));
  t.after(() => fs.rm(root, { recursive: true, force: true }));
  for (const [rel, text] of Object.entries({ 'infra/edges/e.yaml': 'name: e\nhost: local\nhttp: { port: 18496, addresses: [127.79.96.1] }\n', 'infra/environments/ha.yaml': ENV + data })) {
    await fs.mkdir(dirname(join(root, rel)), { recursive: true });
    await fs.writeFile(join(root, rel), text);
  }
  return root;
}

for (const [what, data, re] of BAD) {
  test(`HA settings with ${what}: provision and every operation fail with the file and line, nothing created`, async (t) => {
    const root = await workspace(t, data);
    const context = { root, projectName: 'infra-data' } as ExecutorContext;
    const runs = [
      () => dataProvisionExecutor({ env: 'ha' }, context),
      ...(['status', 'drill', 'failover'] as const).map((action) => () => dataOpsExecutor({ env: 'ha', action }, context)),
      () => dataOpsExecutor({ env: 'ha', action: 'backup', type: 'full' }, context),
    ];
    for (const run of runs) {
      const r = await captureExecutor(run);
      assert.equal(r.success, false, r.out);
      assert.match(r.out, re);
    }
    assert.deepEqual((await fs.readdir(root)).sort(), ['infra'], 'nothing but the workspace files');
  });
}
