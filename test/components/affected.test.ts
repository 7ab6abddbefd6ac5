import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { copyRepository } from '../e2e/support/copy';

/**
 * The task graph stays exact across languages: a change to one component's
 * dependency lock file or code makes that component, and nothing else,
 * affected — as CI's release (infra-deploy:release), which diffs the same
 * inputs against the previous release, rebuilds only it.
 */
test('a go.sum-only, Cargo.lock-only or apps/veza-web change affects exactly that component', async (t) => {
  const repo = await copyRepository(t, { subnet: '127.79.9', port: 18409 });
  const cases: [string, string][] = [
    ['apps/veza-api/go.sum', 'veza-api'],
    ['apps/veza-stream/Cargo.lock', 'veza-stream'],
    ['apps/veza-web/ui/App.tsx', 'veza-web'],
  ];
  for (const [file, project] of cases) {
    // A trailing newline: the content changes, nothing a tool would read differently.
    await fs.appendFile(join(repo.dir, file), '\n');
    await repo.commit(`touch ${file}`);
    const r = await repo.nx('show', 'projects', '--affected', '--base=HEAD~1', '--head=HEAD', '--json');
    assert.equal(r.code, 0, r.out);
    assert.deepEqual(JSON.parse(/^\[.*\]$/m.exec(r.stdout)?.[0] ?? 'null'), [project], `${file}: ${r.out}`);
  }
});
