/**
 * The generated .forgejo/workflows/deploy.yml run for real by act (the
 * workflow engine forgejo-runner forks; tools/scripts/act-tool.sh, built by
 * setup.sh), every runs-on label mapped to this host, against a copy of this
 * repository whose staging is a local-driver environment with a `file:`
 * registry (test/ci/support/act.ts). One push to main: resolve, the build job
 * (setup, typecheck, lint, release with every component built) and the
 * deploy job. The tag and dispatch scenarios and the timings are in
 * bench/ci-runner-bench.ts. act ignores `concurrency:` (it has no such
 * field), so the concurrency groups keep their structural test
 * (tools/generators/src/ci-workflow/generator.test.ts).
 */
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { actRepository, builtAct, fakeSecret } from './support/act';

const act = builtAct();
/** What a failed run printed: its error lines, then its end. */
const tail = (text: string) => {
  const lines = text.split('\n');
  return [...lines.filter((l) => /error|failure/i.test(l)).slice(0, 40), '…', ...lines.slice(-30)].join('\n');
};

test('push to main, run by act: staging gets the release the build job published, the deploy job runs no compiler, no secret reaches a log', {
  skip: act ? false : 'act is not built: bash tools/scripts/setup.sh builds it (tools/scripts/act-tool.sh)',
  timeout: 45 * 60_000,
}, async (t) => {
  const r = await actRepository(t, act!, { edge: '127.79.70', staging: '127.79.71', prod: '127.79.72', port: 18470 });
  const sha = await r.repo.head();
  const run = await r.act({ kind: 'push-main' });
  assert.equal(run.code, 0, tail(run.output));

  for (const job of ['Resolve environment and release', 'Build what changed and publish the release', 'Deploy the published release']) {
    assert.match(run.output, new RegExp(`^\\[deploy/${job}\\s*\\] .*Job succeeded`, 'm'), `${job} did not succeed`);
  }
  assert.match(run.output, new RegExp(`^\\[deploy/Resolve environment and release\\s*\\].*\\| env=staging$`, 'm'));
  assert.match(run.output, new RegExp(`^\\[deploy/Resolve environment and release\\s*\\].*\\| sha=${sha}$`, 'm'));
  // The release manifest the build job published, and the deploy log the deploy job uploaded, name this sha.
  const registry = await fs.readdir(join(r.registry, 'veza'), { recursive: true });
  assert.ok(registry.some((f) => f.includes(sha)), `nothing for ${sha} in the registry: ${registry.join(', ')}`);
  assert.match(run.artifacts, new RegExp(sha));

  // The detector sees compilers where they run (the build job's first release builds all three components), and the deploy job runs none.
  for (const tool of ['go', 'cargo', 'vite']) assert.ok(run.toolchain.includes(`build ${tool}`), `the build job's ${tool} went unseen: ${run.toolchain.join(', ')}`);
  assert.deepEqual(run.toolchain.filter((c) => !c.startsWith('build ')), []);

  // act masks registered secrets in its own output, so the unmasked files matter most: the uploaded deploy log and the engine's logs.
  const logs = [run.output, run.artifacts, await readLogs(join(r.workFolder('deploy'), '.veza'))].join('\n');
  assert.ok(r.secrets.length >= 2, `the workflow names too few secrets to check: ${r.secrets.join(', ')}`);
  for (const name of r.secrets) assert.ok(!logs.includes(fakeSecret(name)), `${name}'s value is in a log`);
});

/** Every *.log under dir, concatenated. */
async function readLogs(dir: string): Promise<string> {
  const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  const texts = await Promise.all(entries.filter((e) => e.isFile() && e.name.endsWith('.log')).map((e) => fs.readFile(join(e.parentPath, e.name), 'utf8')));
  return texts.join('\n');
}
