import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { deploy } from '@veza/engine/deploy/deploy';
import { rollback } from '@veza/engine/deploy/rollback';
import { cleanup } from '@veza/engine/deploy/cleanup';
import { down } from '@veza/engine/deploy/down';
import type { DeployStep } from '@veza/engine/deploy/plan';
import type { ProgressEvent } from '@veza/engine/deploy/progress';
import { e2eWorkspace, type E2eWorkspace } from './support/workspace';
import { snapshotTree } from './support/tree';

/**
 * --dry-run prints the whole plan and changes nothing: the workspace's
 * .veza/ tree (state, slots, edge, data, registry, cache) and the processes
 * running from it are compared before and after, byte for byte.
 */
const A = 'ab'.repeat(20);
const B = 'cd'.repeat(20);

/**
 * Processes that belong to the workspace: started from it, or naming it on
 * their command line. Postgres's own backends and workers ("postgres: …")
 * come and go with every connection and autovacuum round, so only the
 * postmaster counts.
 */
function workspaceProcesses(root: string): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
      const cwd = readlinkSync(`/proc/${pid}/cwd`);
      if (cmdline.startsWith('postgres: ')) continue;
      if (cmdline.includes(root) || cwd.startsWith(root)) out.push(`${pid} ${cmdline}`);
    } catch {
      // Gone between readdir and read, or not ours to read.
    }
  }
  return out.sort();
}

/**
 * Postgres rewrites its cluster's internals and log by itself (checkpoints,
 * autovacuum) whatever a deploy does: those count by name. Its configuration
 * files, which provisioning writes, count by content like everything else.
 */
const serverOwned = (rel: string) => /^envs\/[^/]+\/data\/(postgres\/[^/]+\/|log\/)/.test(rel);

async function unchanged(ws: E2eWorkspace, fn: () => Promise<unknown>): Promise<void> {
  const tree = await snapshotTree(join(ws.root, '.veza'), serverOwned);
  const procs = workspaceProcesses(ws.root);
  await fn();
  assert.deepEqual(await snapshotTree(join(ws.root, '.veza'), serverOwned), tree, 'no file under .veza/ changed');
  assert.deepEqual(workspaceProcesses(ws.root), procs, 'no process started or stopped');
}

test('dry runs print the plan and change nothing', async (t) => {
  const ws = await e2eWorkspace(t, 'dry', { octet: 4, database: true });

  await t.test('on a fresh environment: every phase, command and file of a first deploy, as typed steps', async () => {
    await ws.release(A);
    const o = { ...ws.options(A), dryRun: true, json: true };
    await unchanged(ws, async () => {
      const r = await deploy(o);
      assert.equal(r.dryRun, true);
    });
    const events = o.lines.map((l) => JSON.parse(l) as ProgressEvent);
    for (const phase of ['validate', 'lock', 'release', 'fetch', 'edge', 'data', 'A', 'B', 'C', 'D', 'E', 'F', 'record']) {
      assert.ok(events.some((e) => e.event === 'phase-end' && e.id === phase && e.status === 'ok'), `phase ${phase} is in the plan`);
    }
    const plan = events.filter((e) => e.event === 'plan');
    const steps = <K extends DeployStep['kind']>(phase: string, kind: K) =>
      plan.filter((e) => e.id === phase && e.step.kind === kind).map((e) => e.step as Extract<DeployStep, { kind: K }>);

    assert.deepEqual(steps('release', 'publish').map((s) => [s.artifact.replace(/@.*/, ''), s.published]), [['veza/api', true], ['veza/web', true], ['veza/veza-release', false]]);
    assert.match(steps('fetch', 'cache-artifact')[0]!.path, /\/[0-9a-f]{64}\.tar\.zst$/);
    assert.ok(steps('fetch', 'cache-artifact').every((s) => 'checked' in s.from), 'the artifacts checked before the lock are placed in the cache');
    assert.deepEqual(steps('edge', 'edge-up'), [{ kind: 'edge-up', edge: 'e2e-dry-edge', running: false }]);
    assert.match(steps('edge', 'write-file').find((s) => s.path.endsWith('haproxy.cfg'))!.diff, /\+\+\+ \S+haproxy\.cfg \(planned\)/, 'the edge config is shown as a diff');
    const data = steps('data', 'data').flatMap((s) => s.plan.steps);
    assert.ok(data.some((s) => s.kind === 'run' && s.command.argv.some((a) => /\/initdb$/.test(a))), 'the data tier commands are listed as argv');
    assert.ok(data.every((s) => s.kind !== 'run' || s.command.input === undefined || s.command.input === '(not shown)'), 'no SQL on stdin is printed');
    assert.deepEqual(steps('A', 'command').map((s) => [s.slot, s.argv]), [['veza-e2e-dry-api-tools', ['node', 'migrate.js', '--up']]]);
    const created = steps('C', 'slot-create');
    assert.deepEqual(created.map((s) => [s.slot, s.role, s.release]), [['veza-e2e-dry-api-green', 'green', A], ['veza-e2e-dry-web-green', 'green', A]]);
    assert.ok(created[0]!.env.includes('DATABASE_URL=(set, not shown)'));
    assert.deepEqual(steps('C', 'slot-start').find((s) => s.slot === 'veza-e2e-dry-web-green')?.argv, ['node', 'server.js']);
    assert.deepEqual(steps('C', 'wait-healthy').map((s) => s.slot), ['veza-e2e-dry-api-green', 'veza-e2e-dry-web-green']);
    assert.equal(steps('D', 'probe-from-edge').length, 2);
    assert.deepEqual(steps('E', 'switch'), [{ kind: 'switch', edge: 'e2e-dry-edge', color: 'green', release: A }]);
    assert.deepEqual(steps('F', 'verify').map((s) => s.component), ['api', 'web']);
    assert.ok(steps('record', 'write-file').some((s) => s.path.endsWith('/history-e2e-dry.json')));
    const summary = events.at(-1)!;
    assert.ok(summary.event === 'summary' && /dry run, nothing was changed/.test(summary.message ?? ''));
    assert.doesNotMatch(o.lines.join('\n'), /postgres:\/\/veza:[^(]/, 'no secret is printed');
  });

  await t.test('against a live environment: the diff of every file the next release would change', async () => {
    await deploy(ws.options(A));
    await ws.release(B, { api: { schema: '0002' } });
    const o = { ...ws.options(B), dryRun: true };
    await unchanged(ws, () => deploy(o));
    const out = o.lines.join('\n');
    assert.match(out, /\[plan\] # snapshot veza as pre-deploy-cdcd/);
    assert.match(out, /\$ \S+\/pg_dump --format custom/);
    assert.match(out, /^-\s+server blue 127\.79\.4\.10:18301 disabled$/m, 'the switch diff takes blue out of maintenance…');
    assert.match(out, /^\+\s+server blue 127\.79\.4\.10:18301$/m, '…and serves it');
    assert.match(out, /\[plan\] append to \S+\/audit\.log: \{"time"/);
    assert.equal(await ws.releaseAt('/api/status'), A, 'the live release still serves');
  });

  await t.test('rollback, cleanup and down have dry runs too', async () => {
    await deploy(ws.options(B));
    for (const run of [
      () => rollback({ ...ws.common(), mode: 'fast', dryRun: true }),
      () => rollback({ ...ws.common(), mode: 'full', dryRun: true }),
      () => cleanup({ ...ws.common(), color: 'green', dryRun: true }),
      () => down({ ...ws.common(), dryRun: true }),
    ]) await unchanged(ws, run);
    assert.equal(await ws.releaseAt('/api/status'), B);
  });
});
