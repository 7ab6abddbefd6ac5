import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadWorkspace } from '@veza/engine/config/workspace';
import { createDataTier } from '@veza/engine/data/tier';
import type { StatusReport } from '@veza/engine/deploy/status';
import { reportedRelease } from '@veza/engine/deploy/probe';
import { INCUS_EDGE_PATHS } from '@veza/engine/edge/incus-edge-host';
import { parseShowProc } from '@veza/engine/edge/runtime-api';
import * as cli from '@veza/engine/hosts/incus/cli';
import { IncusClient } from '@veza/engine/hosts/incus/client';
import { slotName } from '@veza/engine/hosts/naming';
import { isVezaError } from '@veza/engine/log/errors';
import { createProcessRunner, type ProcessRunner } from '@veza/engine/ports/process';
import { httpGet } from '@veza/engine/util/http';
import { startLoad } from '../e2e/support/load';
import { liveEdgeReader } from '../support/live-edge';
import { bridgeAddress } from './support/project';
import { TIER_ENV as ENV, tierRepo, touchWeb } from './support/tier-repo';
import { watchHostTraffic } from './support/traffic-watch';
import { connect as connectAmqp } from 'amqplib';

/**
 * The real Incus tier, as production runs: the repository's own components
 * (Go, Rust, React) built, packaged and published by the task graph in a
 * copy of this repository, deployed with the commands users type
 * (`nx run infra-deploy:deploy|rollback|cleanup|status --env=incus-test`)
 * onto containers of a Debian 13 minbase image that has nothing of theirs
 * preinstalled: the data tier and the edge install their packages with
 * apt, slots launch from runtime images built from their declared needs.
 * A release's life, each step a commit: first release, no-op, a dry-run, a
 * veza-web change, an api health-path change that fails (the live edge is
 * untouched), one that succeeds under load, fast and full rollback, a
 * verification failure switched back, cleanup, a failing Incus step, a
 * preview promoted, and a regression reverted by the post-switch gate.
 * The project is the tier's own and is removed, pass or fail.
 * Needs root, a running incusd and the image: npm run test:incus.
 */
const PUBLIC = { host: '127.0.0.1', port: 18480, hostHeader: 'localhost:18480' };
const API_STATUS = '/api/v1/status';
const RELEASE_PATHS = { 'veza-api': API_STATUS, 'veza-stream': '/stream/status', 'veza-web': '/status.json' } as const;

test('incus tier: the real components through the nx commands, release after release, on a trixie image with nothing preinstalled', { timeout: 90 * 60_000 }, async (t) => {
  const started = Date.now();
  const say = (m: string) => process.stderr.write(`[incus-tier +${((Date.now() - started) / 1000).toFixed(1)}s] ${m}\n`);
  const { repo, env, secrets, timings, nx, deploy, edit } = await tierRepo(t, say);
  const bridge = await bridgeAddress(env.network);
  // Every probe of a slot runs inside its container: nothing from this host may reach a slot's port, ever.
  const slotPorts = (await loadWorkspace(repo.dir)).components.map((c) => c.run.port);
  const hostTraffic = await watchHostTraffic(t, `${bridge.split('.').slice(0, 3).join('.')}.0/24`, slotPorts);

  const client = new IncusClient(createProcessRunner(), env.incus!.project);
  const inside = async (container: string, argv: string[], input?: string) => (await client.output(container, argv, input === undefined ? {} : { input })).trim();
  const names = async () => (await client.instances()).map((i) => i.name).sort();
  const slot = (component: string, color: 'blue' | 'green') => slotName(env, component, color);
  const get = (path: string) => httpGet({ ...PUBLIC, path, timeoutMs: 5_000 });
  // A loaded deploy here builds and tests first (minutes on a loaded machine): the load must outlast it, and says when it did not.
  const load = (paths: string[]) => startLoad(get, paths, { maxMs: 30 * 60_000 });
  const releaseAt = async (path: string) => {
    const r = await get(path);
    return r.status === 200 ? reportedRelease(r.body) : `HTTP ${r.status}`;
  };
  const servedReleases = async () => Object.fromEntries(await Promise.all(Object.entries(RELEASE_PATHS).map(async ([c, p]) => [c, await releaseAt(p)] as const)));
  const everywhere = (sha: string) => ({ 'veza-api': sha, 'veza-stream': sha, 'veza-web': sha });
  const edgeNow = async () => liveEdgeReader(await loadWorkspace(repo.dir), env.edge)();
  // The path the live api pool checks; the preview pool beside it checks the inactive colour's own release.
  const liveApiCheck = async () => /^backend incus-test_backend_api\n(?:  .*\n)*?  http-check send meth GET uri (\S+)$/m.exec((await edgeNow()).config ?? '')?.[1];
  const setApiHealth = (path: string) => edit('apps/veza-api/component.json', (s) => s.replace(/"health": "[^"]+"/, `"health": "${path}"`));

  const A = await repo.head();
  let B = '';
  let D = '';

  await t.test('the first release builds, publishes and deploys the three components onto containers that had none of their software', async () => {
    const r = await deploy('deploy A (first)');
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, new RegExp(`release ${A} is live on green`));
    assert.deepEqual(await servedReleases(), everywhere(A));
    const api = JSON.parse((await get(API_STATUS)).body) as Record<string, unknown>;
    assert.deepEqual([api.build, api.database, api.schemaVersion], [A, 'ok', '0002_playlists'], 'the Go binary stamped with its release, migrated by migrate_tool from the tools container');
    const playlist = await get('/tracks/Track_01-a/index.m3u8');
    assert.equal(playlist.status, 200, 'the Rust stream serves HLS through the edge');
    assert.match((await get('/')).body, new RegExp(`<dd class="mono">${A}</dd>`), 'the React page, served by node from veza-web\'s runtime image');
    assert.deepEqual(await names(), [
      'veza-itest-haproxy', 'veza-itest-postgres', 'veza-itest-rabbitmq', 'veza-itest-redis',
      slot('veza-api', 'green'), slotName(env, 'veza-api', 'tools'), slot('veza-stream', 'green'), slot('veza-web', 'green'),
    ].sort());
  });

  await t.test('each piece is what production needs, inside its container', async () => {
    const api = slot('veza-api', 'green');
    assert.equal(await inside(api, ['stat', '-c', '%a %U', '/etc/veza/slot.env']), '600 root');
    const unit = await inside(api, ['systemctl', 'show', 'veza-slot.service', '--property', 'User', '--property', 'ProtectSystem', '--property', 'NoNewPrivileges', '--property', 'ActiveState']);
    assert.deepEqual(unit.split('\n').sort(), ['ActiveState=active', 'NoNewPrivileges=yes', 'ProtectSystem=strict', 'User=veza-api']);
    assert.equal(await inside(api, ['readlink', '-f', `/proc/${await inside(api, ['systemctl', 'show', '-P', 'MainPID', 'veza-slot.service'])}/exe`]), '/srv/veza/app/veza-api');
    // Nothing the component did not declare: no zstd, no node where no one asked for it; node where veza-web did.
    for (const c of ['veza-api', 'veza-stream']) {
      assert.equal(await inside(slot(c, 'green'), ['sh', '-c', 'command -v node zstd curl haproxy || true']), '', `${c}'s slot has only the base image`);
    }
    assert.match(await inside(slot('veza-web', 'green'), ['sh', '-c', 'command -v node']), /\/node$/);
    // Incus copies an image's properties onto the instances made from it.
    assert.equal((await client.instance(slot('veza-web', 'green')))?.config['image.veza.needs'], 'nodejs', 'veza-web runs from the runtime image of its needs');
    assert.equal((await client.instance(slot('veza-api', 'green')))?.config['image.veza.needs'], undefined, 'a static binary runs on the base image');
    // HAProxy's master keeps root; every worker runs as haproxy, locked in Debian's chroot.
    const edge = 'veza-itest-haproxy';
    const proc = parseShowProc(await inside(edge, ['socat', 'STDIO', `UNIX-CONNECT:${INCUS_EDGE_PATHS.master}`], 'show proc\n'));
    assert.ok(proc.workers.length > 0);
    assert.equal(await inside(edge, ['ps', '-o', 'user=', '-p', String(proc.masterPid)]), 'root');
    for (const w of proc.workers) {
      assert.deepEqual((await inside(edge, ['ps', '-o', 'user=,group=', '-p', String(w.pid)])).split(/\s+/), ['haproxy', 'haproxy'], `worker ${w.pid}`);
      assert.equal(await inside(edge, ['readlink', `/proc/${w.pid}/root`]), '/var/lib/haproxy', `worker ${w.pid}`);
    }
    const redis = await inside('veza-itest-redis', ['sh', '-c', 'IFS= read -r REDISCLI_AUTH; export REDISCLI_AUTH; redis-cli --no-auth-warning config get maxmemory-policy; redis-cli --no-auth-warning config get appendonly'], `${secrets.VEZA_ITEST_REDIS_PASSWORD}\n`);
    assert.deepEqual(redis.split('\n'), ['maxmemory-policy', 'allkeys-lru', 'appendonly', 'yes']);
    assert.equal(await inside('veza-itest-redis', ['sh', '-c', 'redis-cli ping 2>&1 || true']), 'NOAUTH Authentication required.');
    assert.match(await inside('veza-itest-rabbitmq', ['rabbitmqctl', 'list_vhosts', '-q', '--no-table-headers']), /^\/veza$/m);
    // Seed 001's RabbitMQ criterion: a message published and consumed as the app user in /veza, over the network.
    const mqAddress = (await client.instance('veza-itest-rabbitmq'))!.ipv4[0]!;
    const mq = await connectAmqp(`amqp://veza:${encodeURIComponent(secrets.VEZA_ITEST_RABBITMQ_PASSWORD)}@${mqAddress}:5672/%2Fveza`);
    try {
      const ch = await mq.createChannel();
      const q = await ch.assertQueue('', { exclusive: true });
      ch.sendToQueue(q.queue, Buffer.from(`release ${A}`));
      assert.equal(await new Promise<string>((resolve) => void ch.consume(q.queue, (m) => m && (ch.ack(m), resolve(m.content.toString())))), `release ${A}`);
    } finally {
      await mq.close();
    }
    const snaps = (await createDataTier(env, { workspaceRoot: repo.dir }).listSnapshots()).map((s) => s.path).sort();
    assert.deepEqual(snaps, ['veza-itest-postgres', 'veza-itest-rabbitmq', 'veza-itest-redis'].map((c) => `${c}/pre-deploy-${A}`));
    assert.equal(await hostTraffic(), 0, 'no packet from this host reached a slot port');
  });

  await t.test('deploying the same commit again is a no-op that touches no container', async () => {
    const before = (await client.instances()).map((i) => [i.name, i.config['volatile.uuid']]);
    const r = await deploy('redeploy A (no-op)');
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, new RegExp(`release ${A} is already deployed on green`));
    assert.deepEqual((await client.instances()).map((i) => [i.name, i.config['volatile.uuid']]), before);
  });

  await t.test('a commit changing veza-web: the dry-run lists the work and changes nothing; the deploy rebuilds only veza-web and goes to blue', async () => {
    await edit('apps/veza-web/index.html', touchWeb);
    B = await repo.commit('veza-web only');
    const before = await names();
    const dry = await deploy('dry-run B', '--dry-run');
    assert.equal(dry.code, 0, dry.out);
    assert.match(dry.out, new RegExp(`create slot ${slot('veza-web', 'blue')}`));
    assert.match(dry.out, new RegExp(`incus snapshot create veza-itest-postgres pre-deploy-${B}`));
    assert.deepEqual(await names(), before, 'the dry-run created nothing');
    assert.equal(await releaseAt('/status.json'), A);

    const r = await deploy('deploy B (second release)');
    assert.equal(r.code, 0, r.out);
    for (const p of ['veza-api', 'veza-stream']) assert.match(r.out, new RegExp(`nx run ${p}:build.*\\[(local cache|existing outputs match the cache, left as is)\\]`), `${p} is not rebuilt`);
    assert.deepEqual(await servedReleases(), everywhere(B));
    assert.ok((await names()).includes(slot('veza-web', 'green')), 'green is kept as the fallback');
  });

  await t.test('a commit declaring an api health path the code does not serve fails in its own slots and leaves the live edge byte-identical', async () => {
    const edgeBefore = await edgeNow();
    await setApiHealth('/api/v1/ready');
    const C = await repo.commit('veza-api: declare /api/v1/ready as the health path (not served yet)');
    const r = await deploy('deploy C (fails its health check)');
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, new RegExp(`${slot('veza-api', 'green')}.*/api/v1/ready`));
    assert.match(r.out, /the edge was not switched/);
    const edgeAfter = await edgeNow();
    assert.equal(edgeAfter.config, edgeBefore.config, 'the live edge config is byte-identical');
    // The live colour's servers (blue, and its disabled backup twins) are as they were; green's follow the slots the release replaced.
    // op=1 is UP in its slow start (30 s after the last switch), op=2 UP at full weight: the ramp is time passing, not a change.
    const live = (servers: string[]) => servers.filter((s) => /\/blue(_backup)? /.test(s)).map((s) => s.replace(' op=1 ', ' op=2 '));
    assert.ok(live(edgeBefore.servers).length >= 6, edgeBefore.servers.join('\n'));
    assert.deepEqual(live(edgeAfter.servers), live(edgeBefore.servers), 'the live colour\'s servers keep their states');
    assert.doesNotMatch(edgeBefore.config ?? '', /\/api\/v1\/ready/);
    assert.deepEqual(await servedReleases(), everywhere(B), `the public URL still serves B, not ${C}`);
  });

  await t.test('the commit that serves the new health path succeeds with no failed request during its switch', async () => {
    await edit('apps/veza-api/internal/api/server.go', (s) => s.replace('\t\tbase + "/status": s.status,\n', '\t\tbase + "/ready": func(w http.ResponseWriter, _ *http.Request) {\n\t\t\tsendJSON(w, http.StatusOK, map[string]string{"status": "ready"})\n\t\t},\n\t\tbase + "/status": s.status,\n'));
    D = await repo.commit('veza-api: serve /api/v1/ready');
    const traffic = load(['/', API_STATUS, '/status.json', '/stream/status']);
    const r = await deploy('deploy D (new health path)');
    const report = await traffic.stop();
    assert.ok(!report.ranOut, 'the load ran until the command ended');
    assert.equal(r.code, 0, r.out);
    assert.deepEqual(await servedReleases(), everywhere(D));
    assert.equal(await liveApiCheck(), '/api/v1/ready', 'the edge checks the api on the path its live release declares');
    assert.ok(report.requests >= 50, `the load ran through the deploy (${report.requests} requests)`);
    assert.deepEqual(report.failures, [], `${report.failures.length} of ${report.requests} requests failed`);
    say(`load during deploy D: ${report.requests} requests, ${report.failures.length} failed`);
  });

  await t.test('status --json reads every slot it can and reports what it cannot as unknown, never as stopped', async () => {
    const r = await nx('status', 'run', 'infra-deploy:status', `--env=${ENV}`, '--json');
    assert.equal(r.code, 0, r.out);
    const json = /^\{\n[^]*?\n\}$/m.exec(r.stdout)?.[0];
    assert.ok(json, r.out);
    const report = JSON.parse(json) as StatusReport;
    assert.deepEqual([report.activeColor, report.release], ['green', D]);
    assert.equal(report.inactive.release, B);
    assert.ok(report.inactive.components.every((c) => c.health === 'ok'), JSON.stringify(report.inactive.components));
  });

  await t.test('a fast rollback flips to blue, and the edge gets back the health path blue\'s release declares', async () => {
    const traffic = load(['/', API_STATUS, '/status.json']);
    const r = await nx('fast rollback', 'run', 'infra-deploy:rollback', `--env=${ENV}`, '--mode=fast');
    const report = await traffic.stop();
    assert.ok(!report.ranOut, 'the load ran until the command ended');
    assert.equal(r.code, 0, r.out);
    assert.deepEqual(await servedReleases(), everywhere(B));
    assert.equal(await liveApiCheck(), '/api/v1/health');
    assert.deepEqual(report.failures, [], `${report.failures.length} of ${report.requests} requests failed`);
  });

  await t.test('a full rollback redeploys the first release from the registry, with no build', async () => {
    const r = await nx('full rollback to A', 'run', 'infra-deploy:rollback', `--env=${ENV}`, '--mode=full', `--sha=${A}`);
    assert.equal(r.code, 0, r.out);
    assert.doesNotMatch(r.out, /nx run veza-[a-z]+:build/, 'a rollback builds nothing');
    assert.deepEqual(await servedReleases(), everywhere(A));
  });

  await t.test('a release that passes its health checks but not the public verification is switched back by itself', async () => {
    await edit('apps/veza-web/component.json', (s) => s.replace('"status": "/status.json"', '"status": "/web/status.json"'));
    const E = await repo.commit('veza-web: declare a status path it does not serve');
    const r = await deploy('deploy E (verification fails)');
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, new RegExp(`veza-web through http://localhost:18480/web/status\\.json .*does not report release ${E}`));
    assert.match(r.out, /switched back to green/);
    assert.deepEqual(await servedReleases(), everywhere(A));
  });

  await t.test('cleanup refuses the live colour and removes the other one', async () => {
    const refused = await nx('cleanup green (refused)', 'run', 'infra-deploy:cleanup', `--env=${ENV}`, '--color=green');
    assert.equal(refused.code, 1, refused.out);
    const r = await nx('cleanup blue', 'run', 'infra-deploy:cleanup', `--env=${ENV}`, '--color=blue');
    assert.equal(r.code, 0, r.out);
    assert.ok(!(await names()).some((n) => n.endsWith('-blue')), (await names()).join(', '));
    assert.deepEqual(await servedReleases(), everywhere(A), 'green still serves');
  });

  await t.test('an unreachable daemon, a missing pool or an unknown image is refused before anything is touched', async () => {
    const before = await names();
    const real = createProcessRunner();
    const deadSocket: ProcessRunner = { dryRun: false, run: (c, o) => real.run({ ...c, env: { ...c.env, INCUS_SOCKET: '/nonexistent/unix.socket' } }, o) };
    await assert.rejects(createDataTier(env, { workspaceRoot: repo.dir, runner: deadSocket }).provision(),
      (e: unknown) => isVezaError(e) && e.code === 'INCUS_UNREACHABLE' && /incus query \/1\.0/.test(e.message));
    const broken = (incus: object) => ({ ...env, incus: { ...env.incus!, ...incus } });
    await assert.rejects(createDataTier(broken({ storagePool: 'veza-no-such-pool' }), { workspaceRoot: repo.dir }).provision(),
      (e: unknown) => isVezaError(e) && e.code === 'NO_STORAGE_POOL' && /veza-no-such-pool/.test(e.message) && /veza-test-btrfs/.test(e.hint));
    await assert.rejects(createDataTier(broken({ image: 'veza-no-such-image' }), { workspaceRoot: repo.dir }).provision(),
      (e: unknown) => isVezaError(e) && e.code === 'NO_IMAGE');
    assert.deepEqual(await names(), before);
  });

  await t.test('an incus step failing mid-deploy keeps the edge on green and what existed, names the logs command, releases the lock', async () => {
    // Someone else's container where the next release wants its web-blue slot.
    const foreign = slot('veza-web', 'blue');
    await client.run(cli.launch(client.scope, { image: env.incus!.image, name: foreign, profiles: ['veza-app'], network: env.network, pool: env.incus!.storagePool! }));
    await edit('apps/veza-web/component.json', (s) => s.replace('"status": "/web/status.json"', '"status": "/status.json"'));
    await repo.commit('veza-web: the status path it serves');
    const r = await deploy('deploy F (fails in phase C)');
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, new RegExp(`refusing to re-create ${foreign}`));
    assert.match(r.out, new RegExp(`incus exec ${foreign} .*journalctl`));
    assert.deepEqual(await servedReleases(), everywhere(A), 'the edge was not switched');
    assert.equal((await client.instance(foreign))?.config['user.veza.slot'], undefined, 'the foreign container is untouched');
    const st = await nx('status after F', 'run', 'infra-deploy:status', `--env=${ENV}`, '--json');
    assert.equal((JSON.parse(/^\{\n[^]*?\n\}$/m.exec(st.stdout)![0]) as StatusReport).lock, null, 'the deploy lock was released');
    await client.run(cli.deleteInstance(client.scope, foreign));
  });

  let G = '';
  await t.test('deploy --no-switch shows the next release at the preview host only; promote puts it live with no failed request', async () => {
    await edit('apps/veza-web/index.html', touchWeb);
    G = await repo.commit('veza-web: a release to preview');
    const r = await deploy('deploy G (--no-switch)', '--no-switch');
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /up on blue for preview at http:\/\/preview\.localhost:18480; green still serves/);
    assert.deepEqual(await servedReleases(), everywhere(A), 'the public URL still serves the live release');
    const preview = await httpGet({ ...PUBLIC, hostHeader: 'preview.localhost:18480', path: '/status.json', timeoutMs: 5_000 });
    assert.equal(preview.status === 200 ? reportedRelease(preview.body) : `HTTP ${preview.status}`, G, 'the preview host serves the inactive colour');
    const traffic = load(['/', API_STATUS, '/status.json']);
    const promoted = await nx('promote G', 'run', 'infra-deploy:promote', `--env=${ENV}`);
    const report = await traffic.stop();
    assert.ok(!report.ranOut, 'the load ran until the command ended');
    assert.equal(promoted.code, 0, promoted.out);
    assert.deepEqual(await servedReleases(), everywhere(G));
    assert.deepEqual(report.failures, [], `${report.failures.length} of ${report.requests} requests failed during the promote`);
  });

  await t.test('a release that passes health and verification but fails a fifth of real requests is reverted by the post-switch gate', async () => {
    // The fault is in the code, as a real regression would be: every fifth page answers 500.
    await edit('apps/veza-web/server/web-server.ts', (s) => s.replace('  const server = createServer((req, res) => {\n', '  let pages = 0;\n  const server = createServer((req, res) => {\n').replace('    serveStatic(req, res, path).catch(', '    if (path === \'/\' && ++pages % 5 === 0) return sendText(res, 500, \'a regression\\n\');\n    serveStatic(req, res, path).catch('));
    const H = await repo.commit('veza-web: a regression that fails one page in five');
    const traffic = load(['/']);
    const r = await deploy('deploy H (reverted by the gate)', '--bake=60');
    const report = await traffic.stop();
    assert.ok(!report.ranOut, 'the load ran until the command ended');
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /failed in the post-switch gate: the green colour failed \d+ of \d+ answers \(\d+\.\d %\) in [\d.]+ s — veza-web \d+\/\d+/);
    assert.match(r.out, /switched back to blue/);
    assert.deepEqual(await servedReleases(), everywhere(G), `G serves again, not ${H}`);
    assert.ok(report.failures.length > 0 && report.failures.every((f) => /HTTP 500/.test(f)), `the load saw the release's own 500s and nothing else: ${report.failures.slice(0, 3).join('; ')}`);
    assert.equal(await hostTraffic(), 0, 'no packet from this host reached a slot port in the whole run');
    say(`timings (s): ${JSON.stringify(timings)}`);
  });
});
