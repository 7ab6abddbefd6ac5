import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { loadPackageManifest } from '@veza/engine/artifact/manifest';
import { environmentSchema } from '@veza/engine/config/environment';
import { loadWorkspace } from '@veza/engine/config/workspace';
import { openEdgeHost } from '@veza/engine/edge/open-host';
import { formatDrill, labFailoverDrill, waitFor } from '@veza/engine/edge/testing/lab-drill';
import * as cli from '@veza/engine/hosts/incus/cli';
import { IncusClient } from '@veza/engine/hosts/incus/client';
import { createIncusDriver } from '@veza/engine/hosts/incus/driver';
import { APP_PROFILE, IncusHost, incusSettings } from '@veza/engine/hosts/incus/host';
import { createProcessRunner } from '@veza/engine/ports/process';
import { copyRepository } from '../e2e/support/copy';
import { ownBridge, wipeProject } from './support/project';

/**
 * The lab's failover drill on Incus (seed a9541f517b; the local twin is
 * libs/engine/src/edge/lab.integration.test.ts, both run
 * edge/testing/lab-drill.ts). In a copy of this repository, the real lab
 * edge file (infra/edges/veza-lab.yaml) gets a placement of its own — the
 * edge-file `incus:` block, since no environment names the lab — in the
 * test's project `veza-itest-lab` on its own bridge, and its port moves to a
 * loopback address of this host (127.83.0.1:18600, the edge's proxy
 * device). `nx run infra-edge:bootstrap --edge=veza-lab` creates the edge
 * container and installs HAProxy with apt; `nx run veza-api:package` builds
 * the real veza-api through the task graph, and the Incus driver (the one
 * deploys use) runs that artifact in the two instance containers the lab's
 * pool names, veza-lab-api-1 and -2 (no database: the health path does not
 * need one). Then WebSocket sessions and a request loop from this host
 * through the proxy device, `incus stop --force veza-lab-api-1`, and the
 * seed's criteria. Project and bridge are removed pass or fail.
 */
const PROJECT = 'veza-itest-lab';
const BRIDGE = { name: 'vezalabbr0', address: '10.231.183.1' };
const EDGE = { address: '127.83.0.1', port: 18600 };
const EDGE_NAME = 'veza-lab';
const POOL = 'lab_backend_api';
const API_PORT = 8080;

test('lab failover on Incus: instance 1 stopped with --force, the edge marks it DOWN, every request still 200, WebSockets move to instance 2, instance 1 returns with slow start', { timeout: 30 * 60_000 }, async (t) => {
  const started = Date.now();
  const say = (m: string) => process.stderr.write(`[lab-incus +${((Date.now() - started) / 1000).toFixed(1)}s] ${m}\n`);
  const removeBridge = await ownBridge(BRIDGE.name, `${BRIDGE.address}/24`);
  // The instances' driver and the teardown see the lab's placement as an environment would state it.
  const placement = environmentSchema.parse({
    name: 'lab', driver: 'incus', prefix: 'veza-lab-', network: BRIDGE.name, publicHosts: ['lab.veza.fr'], publicUrl: 'http://lab.veza.fr', edge: EDGE_NAME,
    registry: { url: 'file:none', owner: 'none' }, incus: { project: PROJECT, image: 'veza-test-base', dnsSuffix: 'incus', storagePool: 'veza-test-btrfs' },
  });
  t.after(async () => {
    say(`teardown: removed ${PROJECT} with ${(await wipeProject(placement)).join(', ') || 'nothing'}`);
    await removeBridge();
  });
  const leftovers = await wipeProject(placement);
  if (leftovers.length) say(`removed leftovers of an earlier run: ${leftovers.join(', ')}`);

  const repo = await copyRepository(t, { subnet: '127.83.9', port: 18609, nxTimeoutMs: 20 * 60_000 });
  const edgeFile = join(repo.dir, `infra/edges/${EDGE_NAME}.yaml`);
  const lab = parse(await fs.readFile(edgeFile, 'utf8')) as Record<string, Record<string, unknown>>;
  await fs.writeFile(edgeFile, stringify({
    ...lab,
    incus: { project: PROJECT, network: BRIDGE.name, image: 'veza-test-base', storagePool: 'veza-test-btrfs' },
    http: { port: EDGE.port, addresses: [EDGE.address] },
    lab: { ...lab.lab, dnsSuffix: 'incus' },
  }));
  await repo.commit('the lab edge placed in the test project');
  const host = (lab.lab!.hosts as string[])[0]!;

  // Every other container on this machine maps its root to one host uid, whose inotify instances
  // (fs.inotify.max_user_instances: the kernel's 128 until incus-setup.sh applies the package's 1024) some
  // 15 systemd containers used up: networkd failed with "Too many open files" and the container got no
  // address. An isolated idmap gives each of this test's containers a quota of its own, and takes nothing
  // from the one the tier's containers share.
  const client = new IncusClient(createProcessRunner(), PROJECT);
  await new IncusHost(client, incusSettings(placement)).ensure();
  await client.run({ argv: [cli.INCUS, 'profile', 'set', APP_PROFILE, 'security.idmap.isolated=true', '--project', PROJECT], input: '', timeoutMs: 60_000, description: `isolate the idmap of ${PROJECT}'s containers` });

  const nx = async (...args: string[]) => {
    const t0 = Date.now();
    const r = await repo.nx(...args);
    say(`nx ${args.join(' ')} → exit ${r.code} in ${((Date.now() - t0) / 1000).toFixed(1)} s (load ${(await fs.readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ')})`);
    assert.equal(r.code, 0, r.out);
    return r;
  };
  await Promise.all([nx('run', 'infra-edge:bootstrap', `--edge=${EDGE_NAME}`), nx('run', 'veza-api:package')]);
  const manifest = await loadPackageManifest(join(repo.dir, 'dist/artifacts/veza-api/manifest.json'));
  assert.ok(await client.instance(EDGE_NAME), `the edge container lives in ${PROJECT}, as the edge file's incus: says`);

  const driver = createIncusDriver({ env: placement, runner: createProcessRunner() });
  const declared = JSON.parse(await fs.readFile(join(repo.dir, 'apps/veza-api/component.json'), 'utf8')) as { run: { command: string[] } };
  const instance = (n: number) => `veza-lab-api-${n}`;
  const answers = async (n: number) => (await driver.probe(instance(n), API_PORT, '/api/v1/health', 2_000)).status === 200;
  await Promise.all([1, 2].map(async (n) => {
    // The lab has no colours; the driver's role label says blue for both.
    await driver.create({
      name: instance(n), env: 'lab', component: 'veza-api', role: 'blue', release: manifest.version,
      artifactPath: join(repo.dir, 'dist/artifacts/veza-api', manifest.file), artifactSha256: manifest.sha256, command: declared.run.command, needs: [],
      bind: { host: '0.0.0.0', port: API_PORT }, vars: { DATABASE_URL: 'postgres://lab:lab@127.0.0.1:1/lab' },
    });
    await driver.start(instance(n));
    await waitFor(`${instance(n)} answers`, () => answers(n), 60_000);
  }));
  say('both instances answer');

  const edge = openEdgeHost(await loadWorkspace(repo.dir), (await loadWorkspace(repo.dir)).edge(EDGE_NAME));
  const figures = await labFailoverDrill({
    edge: { ...EDGE, host },
    pool: POOL,
    runtime: (command) => edge.runtime([command]),
    // Hard: no shutdown, the instance's processes and its network end at once.
    kill: async () => void (await client.run({ argv: [cli.INCUS, 'stop', '--force', instance(1), '--project', PROJECT], input: '', timeoutMs: 120_000, description: `incus stop --force ${instance(1)}` })),
    restart: async () => {
      await client.run(cli.startInstance(client.scope, instance(1)));
      await waitFor(`${instance(1)} answers again`, () => answers(1), 120_000);
    },
    requestTimeoutMs: 30_000,
    waitMs: 120_000,
  }).catch(async (e: unknown) => {
    // A failure's story is in HAProxy's log (state changes, termination flags), in the edge container's journal.
    const log = await client.exec(EDGE_NAME, ['journalctl', '--no-pager', '-o', 'cat', '-t', 'haproxy', '-n', '400'], { check: false }).catch(() => undefined);
    const notable = (log?.stdout ?? '').split('\n').filter((l) => l && (/\b(DOWN|UP|MAINT)\b/.test(l) || !/ 200 .* ---- /.test(l)));
    say(`HAProxy's log, what was not a plain 200:\n${notable.slice(-40).join('\n') || '(nothing)'}`);
    throw e;
  });
  say(`lab failover (Incus): ${formatDrill(figures)}`);
  console.log(`# lab failover (Incus): ${formatDrill(figures)}`);
});
