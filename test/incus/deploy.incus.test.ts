import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { deploy } from '@veza/engine/deploy/deploy';
import { rollback } from '@veza/engine/deploy/rollback';
import { cleanup } from '@veza/engine/deploy/cleanup';
import { status } from '@veza/engine/deploy/status';
import { isVezaError } from '@veza/engine/log/errors';
import { createDataTier } from '@veza/engine/data/tier';
import { IncusClient } from '@veza/engine/hosts/incus/client';
import { createProcessRunner, type ProcessRunner } from '@veza/engine/ports/process';
import * as cli from '@veza/engine/hosts/incus/cli';
import { PROBE_USER_AGENT } from '@veza/engine/hosts/incus/probe';
import { INCUS_EDGE_PATHS } from '@veza/engine/edge/incus-edge-host';
import { parseShowProc } from '@veza/engine/edge/runtime-api';
import { incusWorkspace } from './support/workspace';
import { bridgeAddress, wipeProject } from './support/project';
import { resolveThroughBridge } from './support/bridge-dns';

/**
 * The real Incus tier: one environment taken through a release's life on
 * real containers — data containers (postgres, redis, rabbitmq), the edge
 * container with its proxy device, three components × blue/green, the
 * switch, verification through the public URL, a fast rollback and a
 * cleanup — through the same deploy engine the local driver uses. It starts
 * from an empty project of its own and leaves it removed, pass or fail.
 * Needs root, a running incusd and the image: npm run test:incus.
 */
const A = 'a1'.repeat(20);
const B = 'b2'.repeat(20);
const C = 'c3'.repeat(20);

test('incus tier: deploy, no-op, second release, fast rollback, cleanup on real containers', { timeout: 60 * 60_000 }, async (t) => {
  const started = Date.now();
  const say = (m: string) => process.stderr.write(`[incus-tier +${((Date.now() - started) / 1000).toFixed(1)}s] ${m}\n`);
  const secrets = {
    VEZA_ITEST_POSTGRES_PASSWORD: `pg-${randomBytes(12).toString('base64url')}'$`,
    VEZA_ITEST_REDIS_PASSWORD: `redis-${randomBytes(12).toString('base64url')}"\\`,
    VEZA_ITEST_RABBITMQ_PASSWORD: `mq-${randomBytes(12).toString('base64url')} x`,
  };
  Object.assign(process.env, secrets);
  t.after(() => {
    for (const k of Object.keys(secrets)) delete process.env[k];
  });

  const ws = await incusWorkspace(t, (l) => say(l));
  const leftovers = await wipeProject(ws.env);
  if (leftovers.length) say(`removed leftovers of an earlier run: ${leftovers.join(', ')}`);
  t.after(async () => {
    const removed = await wipeProject(ws.env);
    say(`teardown: removed project ${ws.env.incus!.project} with ${removed.join(', ') || 'nothing'}`);
  });
  const bridge = await bridgeAddress(ws.env.network);
  t.after(resolveThroughBridge(ws.env.incus!.dnsSuffix, bridge));

  const client = new IncusClient(createProcessRunner(), ws.env.incus!.project);
  const inside = async (container: string, argv: string[], input?: string) => (await client.exec(container, argv, input === undefined ? {} : { input })).stdout.trim();
  const names = async () => (await client.instances()).map((i) => i.name).sort();
  const phase = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const t0 = Date.now();
    say(`── ${name}`);
    try {
      return await fn();
    } finally {
      say(`── ${name}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
  };

  await t.test('the first deploy creates the data, edge and green containers and the public URL serves the release', async () => {
    await ws.release(A);
    const r = await phase('deploy A', async () => deploy(await ws.options(A)));
    assert.equal(r.outcome, 'success');
    assert.equal(r.color, 'green');
    assert.equal(await ws.releaseAt('/api/status'), A);
    assert.equal(await ws.releaseAt('/stream/status'), A);
    assert.equal(await ws.releaseAt('/status.json'), A);
    const api = JSON.parse((await ws.get('/api/status')).body) as Record<string, unknown>;
    assert.equal(api.database, true, 'the api got DATABASE_URL from the data tier');
    assert.equal(api.color, 'green');
    assert.equal(api.user, 'api', 'the component runs as its own user, not root');
    assert.equal(api.host, 'veza-itest-api-green', 'served from its own container');
    assert.deepEqual(await names(), [
      'veza-itest-api-green', 'veza-itest-api-tools', 'veza-itest-haproxy', 'veza-itest-postgres',
      'veza-itest-rabbitmq', 'veza-itest-redis', 'veza-itest-stream-green', 'veza-itest-web-green',
    ]);
  });

  await t.test('each piece is what the issue asks for, inside its container', async () => {
    assert.equal(await inside('veza-itest-api-green', ['stat', '-c', '%a %U', '/etc/veza/slot.env']), '600 root');
    const unit = await inside('veza-itest-api-green', ['systemctl', 'show', 'veza-slot.service', '--property', 'User', '--property', 'ProtectSystem', '--property', 'NoNewPrivileges', '--property', 'ActiveState']);
    assert.deepEqual(unit.split('\n').sort(), ['ActiveState=active', 'NoNewPrivileges=yes', 'ProtectSystem=strict', 'User=api']);
    assert.equal(await inside('veza-itest-api-green', ['sh', '-c', 'ls /srv/veza/app']), 'migrate.js\nserver.js\nvariant.json');
    const edge = await client.instance('veza-itest-haproxy');
    assert.deepEqual(edge?.devices.http, { type: 'proxy', listen: 'tcp:127.0.0.1:18480', connect: 'tcp:127.0.0.1:18480' });
    // Phase C probed each slot from inside its own container (127.0.0.1, the in-slot probe's agent); nothing probed it from this runner.
    for (const path of ['/api/status', '/stream/status', '/status.json']) {
      const seen = Object.keys((JSON.parse((await ws.get(path)).body) as { healthProbes: Record<string, number> }).healthProbes);
      assert.ok(seen.includes(`127.0.0.1 ${PROBE_USER_AGENT}`), `${path}: ${seen.join(', ')}`);
      assert.ok(!seen.some((w) => w.startsWith(`${bridge} `)), `${path}: the runner (${bridge}) probed the slot itself: ${seen.join(', ')}`);
    }
    // HAProxy's master keeps root (ports, reloads, its CLI); every worker runs as haproxy, locked in Debian's chroot.
    const proc = parseShowProc(await inside('veza-itest-haproxy', ['socat', 'STDIO', `UNIX-CONNECT:${INCUS_EDGE_PATHS.master}`], 'show proc\n'));
    assert.ok(proc.workers.length > 0);
    assert.equal(await inside('veza-itest-haproxy', ['ps', '-o', 'user=', '-p', String(proc.masterPid)]), 'root');
    for (const w of proc.workers) {
      assert.deepEqual((await inside('veza-itest-haproxy', ['ps', '-o', 'user=,group=', '-p', String(w.pid)])).split(/\s+/), ['haproxy', 'haproxy'], `worker ${w.pid}`);
      assert.equal(await inside('veza-itest-haproxy', ['readlink', `/proc/${w.pid}/root`]), '/var/lib/haproxy', `worker ${w.pid}`);
    }
    // The runtime socket the worker serves stays reachable for the pipeline's `incus exec` (root in the container).
    assert.match(await inside('veza-itest-haproxy', ['socat', 'STDIO', 'UNIX-CONNECT:/run/haproxy/admin.sock'], 'show info\n'), new RegExp(`^Pid: ${proc.workers[0]!.pid}$`, 'm'));
    assert.equal(await inside('veza-itest-postgres', ['runuser', '-u', 'postgres', '--', 'psql', '-d', 'veza', '-tAc', 'SELECT version FROM itest_schema']), '0001', 'the migration ran from the tools container');
    const redis = await inside('veza-itest-redis', ['sh', '-c', 'IFS= read -r REDISCLI_AUTH; export REDISCLI_AUTH; redis-cli --no-auth-warning config get maxmemory-policy; redis-cli --no-auth-warning config get appendonly'], `${secrets.VEZA_ITEST_REDIS_PASSWORD}\n`);
    assert.deepEqual(redis.split('\n'), ['maxmemory-policy', 'allkeys-lru', 'appendonly', 'yes']);
    assert.equal(await inside('veza-itest-redis', ['sh', '-c', 'redis-cli ping 2>&1 || true']), 'NOAUTH Authentication required.');
    assert.match(await inside('veza-itest-rabbitmq', ['rabbitmqctl', 'list_vhosts', '-q', '--no-table-headers']), /^\/veza$/m);
    const snaps = (await createDataTier(ws.env, { workspaceRoot: ws.root }).listSnapshots()).map((s) => s.path).sort();
    assert.deepEqual(snaps, ['veza-itest-postgres', 'veza-itest-rabbitmq', 'veza-itest-redis'].map((c) => `${c}/pre-deploy-${A}`));
  });

  await t.test('deploying the same release again is a no-op that touches no container', async () => {
    const before = await client.instances();
    const o = await ws.options(A);
    const r = await phase('redeploy A', () => deploy(o));
    assert.equal(r.outcome, 'noop');
    assert.ok(o.lines.some((l) => /already deployed/.test(l)), o.lines.join('\n'));
    assert.deepEqual((await client.instances()).map((i) => [i.name, i.config['volatile.uuid']]), before.map((i) => [i.name, i.config['volatile.uuid']]));
  });

  await t.test('a dry-run of the second release lists the incus work and changes nothing', async () => {
    await ws.release(B, { api: { schema: '0002' } });
    const before = await client.instances();
    const o = { ...(await ws.options(B)), dryRun: true };
    const r = await phase('dry-run B', () => deploy(o));
    assert.equal(r.color, 'blue');
    assert.ok(o.lines.some((l) => /create slot veza-itest-api-blue/.test(l)), o.lines.join('\n'));
    assert.ok(o.lines.some((l) => /wait up to 60000 ms for veza-itest-api-blue to answer 2xx on port 8080 \/api\/health, probed inside its container/.test(l)), o.lines.join('\n'));
    assert.ok(o.lines.some((l) => new RegExp(`incus snapshot create veza-itest-postgres pre-deploy-${B}`).test(l)), o.lines.join('\n'));
    assert.deepEqual((await client.instances()).map((i) => i.name), before.map((i) => i.name));
    assert.equal(await ws.releaseAt('/api/status'), A);
  });

  await t.test('a second release goes to blue; green keeps running as the fallback', async () => {
    const r = await phase('deploy B', async () => deploy(await ws.options(B)));
    assert.equal(r.color, 'blue');
    assert.equal(await ws.releaseAt('/api/status'), B);
    assert.equal(await ws.releaseAt('/status.json'), B);
    assert.ok((await names()).includes('veza-itest-web-green'), 'the previous colour is kept');
    const report = await status(await ws.options());
    assert.equal(report.activeColor, 'blue');
    assert.equal(report.inactive.release, A);
    assert.ok(report.inactive.components.every((c) => c.health === 'ok'), JSON.stringify(report.inactive.components));
  });

  await t.test('a fast rollback flips the edge back to green, which still runs the first release', async () => {
    const r = await phase('fast rollback', async () => rollback({ ...(await ws.options()), mode: 'fast' }));
    assert.equal(r.color, 'green');
    assert.equal(r.sha, A);
    assert.equal(await ws.releaseAt('/api/status'), A);
    assert.equal(await ws.releaseAt('/stream/status'), A);
  });

  await t.test('cleanup refuses the active colour and removes the other one', async () => {
    await assert.rejects(cleanup({ ...(await ws.options()), color: 'green' }), (e: unknown) => isVezaError(e) && e.code === 'CLEANUP_REFUSED');
    const r = await phase('cleanup blue', async () => cleanup({ ...(await ws.options()), color: 'blue' }));
    assert.deepEqual(r.removed.sort(), ['veza-itest-api-blue', 'veza-itest-stream-blue', 'veza-itest-web-blue']);
    assert.ok(!(await names()).some((n) => n.endsWith('-blue')));
    assert.equal(await ws.releaseAt('/status.json'), A, 'green still serves');
  });

  await t.test('an unreachable daemon, a missing pool or an unknown image is refused before anything is touched', async () => {
    const before = await names();
    const real = createProcessRunner();
    const deadSocket: ProcessRunner = { dryRun: false, run: (c, o) => real.run({ ...c, env: { ...c.env, INCUS_SOCKET: '/nonexistent/unix.socket' } }, o) };
    await assert.rejects(createDataTier(ws.env, { workspaceRoot: ws.root, runner: deadSocket }).provision(),
      (e: unknown) => isVezaError(e) && e.code === 'INCUS_UNREACHABLE' && /incus query \/1\.0/.test(e.message));
    const broken = (incus: object) => ({ ...ws.env, incus: { ...ws.env.incus!, ...incus } });
    await assert.rejects(createDataTier(broken({ storagePool: 'veza-no-such-pool' }), { workspaceRoot: ws.root }).provision(),
      (e: unknown) => isVezaError(e) && e.code === 'NO_STORAGE_POOL' && /veza-no-such-pool/.test(e.message) && /veza-test-pool/.test(e.hint));
    await assert.rejects(createDataTier(broken({ image: 'veza-no-such-image' }), { workspaceRoot: ws.root }).provision(),
      (e: unknown) => isVezaError(e) && e.code === 'NO_IMAGE');
    assert.deepEqual(await names(), before);
  });

  await t.test('an incus step failing mid-deploy keeps the edge on green and what existed, names the logs command, releases the lock', async () => {
    // Someone else's container where the release wants its web-blue slot.
    await client.run(cli.launch(client.scope, { image: ws.env.incus!.image, name: 'veza-itest-web-blue', profiles: ['veza-app'], network: ws.env.network, pool: ws.env.incus!.storagePool! }));
    await ws.release(C);
    await assert.rejects(phase('deploy C (fails in phase C)', async () => deploy(await ws.options(C))), (e: unknown) => isVezaError(e) && e.code === 'NOT_A_SLOT'
      && /refusing to re-create veza-itest-web-blue/.test(e.message) && /incus exec veza-itest-web-blue .*journalctl/.test(e.hint) && /still serves green/.test(e.hint));
    assert.equal(await ws.releaseAt('/status.json'), A, 'the edge was not switched');
    const foreign = await client.instance('veza-itest-web-blue');
    assert.equal(foreign?.config['user.veza.slot'], undefined, 'the foreign container is untouched');
    const report = await status(await ws.options());
    assert.equal(report.lock, null, 'the deploy lock was released');
    const r = await phase('cleanup blue after the failure', async () => cleanup({ ...(await ws.options()), color: 'blue' }));
    assert.deepEqual(r.removed.sort(), ['veza-itest-api-blue', 'veza-itest-stream-blue'], 'only slots are removed');
    assert.ok((await names()).includes('veza-itest-web-blue'));
  });
});
