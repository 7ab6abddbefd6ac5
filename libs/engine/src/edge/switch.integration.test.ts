import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { request } from 'node:http';
import { readActiveColor } from '../state/history';
import { identify } from '../util/proc';
import { createMemoryLogger } from '../log/logger';
import { bootstrapEdge, stopEdge } from './bootstrap';
import type { EdgeHost } from './edge-host';
import { createLocalEdgeHost } from './local-edge-host';
import { renderHaproxyConfig } from './render';
import { switchColor, type SwitchOptions } from './switch';
import { describeSwitchStep } from './plan';
import { readSwitchLog } from './switch-log';
import { createEdgeWorkspace, startBackends, type Backends, type EdgeFixture, type FixtureEnv } from './testing/edge-fixture';
import { loadWorkspace } from '../config/workspace';

/**
 * The switch against a real local edge: HAProxy in master-worker mode in
 * front of real blue and green node:http backends, all on 127.79.x.y.
 */
const OCTET = 79;
const ALPHA: FixtureEnv = { name: 'alpha', sub: 1, hosts: ['alpha.test', 'www.alpha.test'] };
const BETA: FixtureEnv = { name: 'beta', sub: 2, hosts: ['beta.test'] };
const SHA = 'a'.repeat(40);

interface World {
  fx: EdgeFixture;
  host: EdgeHost;
  alpha: Backends;
  beta: Backends;
  log: ReturnType<typeof createMemoryLogger>;
  get(env: FixtureEnv, path: string, headers?: Record<string, string>, hostHeader?: string): Promise<{ status: number; body: string; headers: Record<string, string | string[] | undefined> }>;
  switchTo(env: FixtureEnv, color: string, extra?: Partial<SwitchOptions>): ReturnType<typeof switchColor>;
}

let portSeq = 0;

async function world(t: TestContext, apply: 'runtime' | 'reload' = 'runtime'): Promise<World> {
  const fx = await createEdgeWorkspace({ octet: OCTET, envs: [ALPHA, BETA], edgePort: 18700 + portSeq++, apply });
  const alpha = await startBackends(OCTET, ALPHA);
  const beta = await startBackends(OCTET, BETA);
  const host = createLocalEdgeHost({ workspaceRoot: fx.root, edge: 'local-edge', stopTimeoutMs: 500 });
  const log = createMemoryLogger();
  // Cleanup runs however the test ends: HAProxy by its pid file, the backends, the workspace.
  t.after(async () => {
    await host.stop();
    await alpha.close();
    await beta.close();
    await fx.remove();
  });
  await bootstrapEdge({ workspace: await loadWorkspace(fx.root), edge: 'local-edge', log, host });
  return {
    fx, host, alpha, beta, log,
    get: (env, path, headers = {}, hostHeader) => httpGet(fx.edgeAddress(env.name), fx.edgePort, path, { host: hostHeader ?? env.hosts[0]!, ...headers }),
    switchTo: async (env, color, extra = {}) => switchColor({ workspace: await loadWorkspace(fx.root), env: env.name, color, log, host, actor: 'tester', ...extra }),
  };
}

function httpGet(address: string, port: number, path: string, headers: Record<string, string>) {
  return new Promise<{ status: number; body: string; headers: Record<string, string | string[] | undefined> }>((resolve, reject) => {
    const req = request({ host: address, port, path, headers, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

async function colorOf(w: World, env: FixtureEnv, path = '/'): Promise<string> {
  const r = await w.get(env, path);
  assert.equal(r.status, 200, `GET ${path} on ${env.name}: ${r.status} ${r.body}`);
  return String(r.headers['x-color']);
}

test('bootstrap starts a loopback-only HAProxy that routes by Host (port stripped), path and default pool', async (t) => {
  const w = await world(t);
  const st = await w.host.status();
  assert.ok(st.running && st.pid, st.detail);
  assert.equal(await colorOf(w, ALPHA), 'blue');
  assert.equal((await w.get(ALPHA, '/api/v1/users')).headers['x-component'], 'veza-api');
  assert.equal((await w.get(ALPHA, '/api/v1x')).headers['x-component'], 'veza-web', '/api/v1x is not under /api/v1');
  assert.equal((await w.get(ALPHA, '/', {}, `www.alpha.test:${w.fx.edgePort}`)).headers['x-color'], 'blue');
  assert.equal((await w.get(ALPHA, '/', {}, 'nobody.test')).status, 503);
  // Every listener HAProxy holds is on loopback.
  const cfg = (await w.host.readConfig())!;
  for (const bind of cfg.split('\n').filter((l) => /^\s+bind /.test(l))) assert.match(bind, /^\s+bind 127\./);
  // A second bootstrap with nothing changed leaves the process alone.
  const again = await bootstrapEdge({ workspace: await loadWorkspace(w.fx.root), edge: 'local-edge', log: w.log, host: w.host });
  assert.equal(again.action, 'unchanged');
  assert.equal((await w.host.status()).pid, st.pid);
});

test('switch flips which colour answers, for one environment only, and keeps the file in step', async (t) => {
  const w = await world(t);
  const res = await w.switchTo(ALPHA, 'green', { sha: SHA });
  assert.deepEqual([res.from, res.to, res.applied], ['blue', 'green', 'runtime']);
  assert.equal(await colorOf(w, ALPHA), 'green');
  assert.equal(await colorOf(w, ALPHA, '/api/v1/x'), 'green');
  assert.equal(await colorOf(w, BETA), 'blue', 'beta shares the edge but was not switched');
  assert.equal(await readActiveColor(w.host.state, 'alpha'), 'green');
  assert.equal(await readActiveColor(w.host.state, 'beta'), 'blue');
  const [rec] = await readSwitchLog(w.host.state, 'alpha');
  assert.deepEqual([rec!.color, rec!.sha, rec!.actor], ['green', SHA, 'tester']);
  assert.ok(!Number.isNaN(Date.parse(rec!.time)));
  assert.equal(await fs.readFile(`${w.host.configPath}.bak`, 'utf8').then((b) => b.includes('alpha=blue')), true, 'the backup is the pre-switch config');

  // The file alone reproduces the state: a cold restart still serves green.
  await w.host.stop();
  await w.host.start();
  assert.equal(await colorOf(w, ALPHA), 'green');
  assert.equal(await colorOf(w, BETA), 'blue');
});

test('a sticky cookie pointing at the old colour follows the switch', async (t) => {
  const w = await world(t);
  const first = await w.get(ALPHA, '/api/v1/session');
  const cookie = String(first.headers['set-cookie']).split(';')[0]!;
  assert.match(cookie, /^veza_srv_alpha=blue$/);
  await w.switchTo(ALPHA, 'green');
  const after = await w.get(ALPHA, '/api/v1/session', { cookie });
  assert.equal(after.headers['x-color'], 'green');
});

test('switch by master-worker reload gives the same result', async (t) => {
  const w = await world(t, 'reload');
  const before = (await w.host.runtime(['show info'])).match(/^Pid: (\d+)$/m)![1];
  const res = await w.switchTo(ALPHA, 'green');
  assert.equal(res.applied, 'reload');
  assert.equal(await colorOf(w, ALPHA), 'green');
  const after = (await w.host.runtime(['show info'])).match(/^Pid: (\d+)$/m)![1];
  assert.notEqual(after, before, 'a new worker serves');
});

test('a switch to an unhealthy colour is refused unless forced', async (t) => {
  const w = await world(t);
  w.alpha.healthy.green = false;
  const cfg = await w.host.readConfig();
  await assert.rejects(w.switchTo(ALPHA, 'green'), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'UNHEALTHY_TARGET');
    assert.match(e.message, /veza-api http:\/\/127\.79\.1\.11:18601\/api\/v1\/health: HTTP 503/);
    return true;
  });
  assert.equal(await w.host.readConfig(), cfg);
  assert.equal(await colorOf(w, ALPHA), 'blue');
  assert.equal(await readActiveColor(w.host.state, 'alpha'), 'blue');

  const forced = await w.switchTo(ALPHA, 'green', { force: true });
  assert.equal(forced.to, 'green');
  assert.ok(w.log.lines.some((l) => /--force: switching despite veza-api/.test(l)));
  assert.equal(await readActiveColor(w.host.state, 'alpha'), 'green');
});

test('a template that renders an invalid config is refused with the haproxy -c message; nothing changes', async (t) => {
  const w = await world(t);
  const cfg = await w.host.readConfig();
  const broken = (m: Parameters<typeof renderHaproxyConfig>[0]) => renderHaproxyConfig(m).replace('  balance roundrobin', '  balance roundrobin\n  frobnicate-the-backend yes');
  await assert.rejects(w.switchTo(ALPHA, 'green', { renderer: broken }), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'EDGE_CONFIG_INVALID');
    assert.match(e.message, /haproxy -c rejected .*haproxy\.cfg: ALERT: .*frobnicate-the-backend/);
    return true;
  });
  assert.equal(await w.host.readConfig(), cfg, 'the live config is byte-identical');
  assert.equal(await colorOf(w, ALPHA), 'blue', 'the previous backend still answers');
  assert.equal(await readActiveColor(w.host.state, 'alpha'), 'blue');
  assert.deepEqual(await readSwitchLog(w.host.state, 'alpha'), []);
});

test('a failure while applying restores the previous config and server states', async (t) => {
  const w = await world(t);
  const cfg = await w.host.readConfig();
  // The real host, except that HAProxy refuses the step that retires the old colour.
  let refused = false;
  const failing: EdgeHost = Object.assign(Object.create(w.host) as EdgeHost, {
    runtime: async (commands: string[]) => {
      if (!refused && commands.some((c) => c.includes('state maint'))) {
        refused = true;
        return 'No such server.\n';
      }
      return w.host.runtime(commands);
    },
  });
  await assert.rejects(w.switchTo(ALPHA, 'green', { host: failing }), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'SWITCH_FAILED');
    assert.match(e.message, /No such server.*the edge was restored to blue/);
    return true;
  });
  assert.equal(await w.host.readConfig(), cfg, 'the live config is byte-identical');
  assert.equal(await colorOf(w, ALPHA), 'blue');
  for (let i = 0; i < 5; i++) assert.equal(await colorOf(w, ALPHA), 'blue', 'green was taken out again');
  assert.equal(await readActiveColor(w.host.state, 'alpha'), 'blue');
});

test('bad input is refused before anything changes', async (t) => {
  const w = await world(t);
  const cfg = await w.host.readConfig();
  const cases: [Partial<SwitchOptions> & { env: string; color: string }, RegExp][] = [
    [{ env: 'gamma', color: 'green' }, /unknown environment "gamma"/],
    [{ env: 'Alpha', color: 'green' }, /invalid environment name/],
    [{ env: 'alpha', color: 'purple' }, /invalid colour "purple"/],
    [{ env: 'alpha', color: 'green', sha: 'abc' }, /invalid version "abc"/],
  ];
  for (const [input, re] of cases) {
    await assert.rejects(switchColor({ workspace: await loadWorkspace(w.fx.root), log: w.log, host: w.host, ...input }), re);
  }
  assert.equal(await w.host.readConfig(), cfg);
  assert.equal(await colorOf(w, ALPHA), 'blue');
  assert.equal(await w.host.state.read('active-color-alpha'), undefined);
});

test('history keeps the last 5 switches per environment, newest first', async (t) => {
  const w = await world(t);
  // Bootstrap proved this config's shape; colour flips only toggle `disabled`, so none needs haproxy -c again.
  let checks = 0;
  const counting: EdgeHost = Object.assign(Object.create(w.host) as EdgeHost, { validate: (text: string) => (checks++, w.host.validate(text)) });
  const colors = ['green', 'blue', 'green', 'blue', 'green', 'blue', 'green'];
  for (const [i, color] of colors.entries()) {
    await w.switchTo(ALPHA, color, { sha: String(i).repeat(40), now: () => new Date(Date.UTC(2026, 0, 1, 0, i)), host: counting });
  }
  assert.equal(checks, 0);
  await w.switchTo(BETA, 'green', { sha: 'b'.repeat(40) });
  const alpha = await readSwitchLog(w.host.state, 'alpha');
  assert.deepEqual(alpha.map((r) => r.sha![0]), ['6', '5', '4', '3', '2']);
  assert.deepEqual(alpha.map((r) => r.color), ['green', 'blue', 'green', 'blue', 'green']);
  assert.deepEqual((await readSwitchLog(w.host.state, 'beta')).map((r) => [r.color, r.sha]), [['green', 'b'.repeat(40)]]);
  assert.equal(await colorOf(w, ALPHA), 'green');
  assert.equal(await colorOf(w, BETA), 'green');
});

test('dry-run prints the diff and the runtime commands and changes nothing', async (t) => {
  const w = await world(t);
  const cfg = await w.host.readConfig();
  const res = await w.switchTo(ALPHA, 'green', { dryRun: true });
  assert.equal(res.applied, 'none');
  assert.deepEqual(res.plan.map((s) => s.kind), ['write-file', 'runtime']);
  const plan = res.plan.flatMap(describeSwitchStep).join('\n');
  assert.match(plan, /^-  server green 127\.79\.1\.11:18601 cookie green disabled$/m);
  assert.match(plan, /^\+  server green 127\.79\.1\.11:18601 cookie green$/m);
  assert.match(plan, /runtime: set server alpha_backend_api\/green state ready/);
  // Both pools, the sticky WebSocket one and the plain one, retire their colour straight to maintenance.
  assert.match(plan, /runtime: set server alpha_backend_api\/blue state maint/);
  assert.match(plan, /runtime: set server alpha_web_pool\/blue state maint/);
  assert.doesNotMatch(plan, /state drain/);
  assert.equal(await w.host.readConfig(), cfg);
  assert.equal(await colorOf(w, ALPHA), 'blue');
  assert.equal(await w.host.state.read('active-color-alpha'), undefined);
});

test('switch refuses a stopped edge; stop leaves no process behind', async (t) => {
  const w = await world(t);
  const { pid } = await w.host.status();
  await stopEdge({ workspace: await loadWorkspace(w.fx.root), edge: 'local-edge', log: w.log, host: w.host });
  assert.equal((await w.host.status()).running, false);
  assert.equal(identify(pid!), undefined, 'the master is gone (or a zombie awaiting its reaper)');
  await assert.rejects(w.switchTo(ALPHA, 'green'), (e: Error & { code?: string; hint?: string }) => {
    assert.equal(e.code, 'EDGE_NOT_RUNNING');
    assert.match(e.hint!, /infra-edge:bootstrap/);
    return true;
  });
});

test('bootstrap reloads a running edge seamlessly when the declarations change', async (t) => {
  const w = await world(t);
  const { pid } = await w.host.status();
  assert.equal((await w.get(ALPHA, '/status')).headers['x-component'], 'veza-web');
  const file = join(w.fx.root, 'apps', 'veza-api', 'component.json');
  const decl = JSON.parse(await fs.readFile(file, 'utf8'));
  decl.edge.prefixes.push('/status');
  await fs.writeFile(file, JSON.stringify(decl));
  const res = await bootstrapEdge({ workspace: await loadWorkspace(w.fx.root), edge: 'local-edge', log: w.log, host: w.host });
  assert.equal(res.action, 'reloaded');
  assert.equal((await w.host.status()).pid, pid, 'same master, new worker');
  assert.equal((await w.get(ALPHA, '/status')).headers['x-component'], 'veza-api');
  // A switch now sees the same shape as the live file: back to the Runtime API.
  assert.equal((await w.switchTo(ALPHA, 'green')).applied, 'runtime');
});
