import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { deploy } from '@veza/engine/deploy/deploy';
import { heldBy, readActiveColor, readHistory } from '@veza/engine/state/history';
import { envLock, readLock } from '@veza/engine/state/lock';
import { readMetricsState } from '@veza/engine/deploy/metrics';
import { readAudit } from '@veza/engine/deploy/audit';
import { createDirStateStore } from '@veza/engine/ports/state-store';
import { localEdgeDir } from '@veza/engine/edge/local-edge-host';
import { identify } from '@veza/engine/util/proc';
import type { VezaError } from '@veza/engine/log/errors';
import { spawnEntry, type RunningEntry } from '../support/entry-process';
import { e2eWorkspace, type E2eWorkspace } from './support/workspace';

/**
 * The deploy lock and crash safety, with deploys running as their own
 * processes (support/deploy-cli.ts, --json progress on stdout) so a test can
 * watch one and SIGKILL it exactly when a phase starts.
 */
const CLI = join(__dirname, 'support', 'deploy-cli.ts');
const PHASES = ['validate', 'lock', 'release', 'fetch', 'edge', 'data', 'A', 'B', 'C', 'D', 'E', 'F', 'record'];

function sha(n: number): string {
  return n.toString(16).padStart(2, '0').repeat(20);
}

function childDeploy(t: { after(fn: () => unknown): void }, ws: E2eWorkspace, release: string, extra: string[] = []): RunningEntry {
  const entry = spawnEntry(CLI, [ws.root, ws.env, release, ...extra], { VEZA_RELEASE_SHA: release });
  t.after(async () => {
    if (entry.child.exitCode === null && entry.child.signalCode === null) entry.child.kill('SIGKILL');
    await entry.exited;
  });
  return entry;
}

/** A deploy process that has loaded and waits for SIGUSR2 (its start-up overlaps the previous step's work), and stops itself when `stopAt` starts. */
async function preparedDeploy(t: { after(fn: () => unknown): void }, ws: E2eWorkspace, release: string, stopAt: string): Promise<RunningEntry & { go(): void }> {
  const entry = childDeploy(t, ws, release, ['--on-signal', `--stop-at=${stopAt}`]);
  await entry.waitFor(/^ready$/m, 60_000);
  return { ...entry, go: () => void entry.child.kill('SIGUSR2') };
}

const phaseStart = (id: string) => new RegExp(`"event":"phase-start","time":"[^"]*","id":"${id}"`);

test('deploy lock and SIGKILL at every phase boundary', async (t) => {
  const ws = await e2eWorkspace(t, 'kill', { octet: 3, database: true });
  const store = createDirStateStore(join(localEdgeDir(ws.root, `${ws.env}-edge`), 'state'));
  await ws.release(sha(1));
  await deploy(await ws.options(sha(1)));

  await t.test('a second deploy of the same environment fails at once, naming the holder', async (t) => {
    await ws.release(sha(2));
    const first = childDeploy(t, ws, sha(2));
    await first.waitFor(phaseStart('C'), 60_000);
    const err = await deploy(await ws.options(sha(2))).then(() => undefined, (e: VezaError) => e);
    assert.equal(first.child.exitCode, null, 'the first deploy was still running when the second one gave up');
    assert.equal(err?.code, 'LOCKED');
    assert.match(err!.message, new RegExp(`locked by a deploy of release ${sha(2)} by \\S+ on \\S+, pid ${first.child.pid}, since`));
    assert.match(err!.hint, /infra-deploy:unlock/);
    const done = await first.exited;
    assert.equal(done.code, 0, done.stderr);
    assert.equal(await ws.releaseAt('/api/status'), sha(2));
  });

  await t.test('a stale lock whose holder died is taken over', async (t) => {
    await ws.release(sha(3));
    const killed = childDeploy(t, ws, sha(3), ['--stop-at=release']);
    await killed.waitFor(phaseStart('release'), 60_000);
    killed.child.kill('SIGKILL');
    await killed.exited;
    const stale = await readLock(store, envLock(ws.env));
    assert.equal(stale?.pid, killed.child.pid, 'the dead deploy left its lock behind');
    assert.equal(identify(stale!.pid), undefined);
    const o = await ws.options(sha(3));
    await deploy(o);
    assert.ok((o.log as unknown as { lines: string[] }).lines.some((l) => /took over the stale e2e-kill deploy lock/.test(l)));
    assert.equal(await readLock(store, envLock(ws.env)), undefined, 'released after the deploy');
    assert.equal(await ws.releaseAt('/api/status'), sha(3));
  });

  let next = preparedDeploy(t, ws, sha(0x10), PHASES[0]!);
  for (const [i, phase] of PHASES.entries()) {
    await t.test(`killed when phase ${phase} starts, the next deploy converges`, async () => {
      const release = sha(0x10 + i);
      await ws.release(release);
      const killed = await next;
      if (i + 1 < PHASES.length) next = preparedDeploy(t, ws, sha(0x10 + i + 1), PHASES[i + 1]!);
      killed.go();
      await killed.waitFor(phaseStart(phase), 60_000);
      killed.child.kill('SIGKILL');
      assert.equal((await killed.exited).signal, 'SIGKILL');

      const r = await deploy(await ws.options(release));
      assert.equal(r.sha, release);
      assert.equal(await ws.releaseAt('/api/status'), release);
      assert.equal(await ws.releaseAt('/status.json'), release);
      // Every state file still parses, and they agree with each other and with the edge.
      const active = await readActiveColor(store, ws.env);
      assert.equal(active, r.color);
      const history = await readHistory(store, ws.env);
      assert.deepEqual([heldBy(history, active)?.sha, heldBy(history, active)?.outcome], [release, 'active']);
      assert.equal((await readMetricsState(store, ws.env))?.sha, release);
      assert.equal((await readAudit(store, { env: ws.env, limit: 1 }))[0]?.outcome, 'success');
      assert.equal(await readLock(store, envLock(ws.env)), undefined);
    });
  }
});
