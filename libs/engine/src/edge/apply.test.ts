import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runtimeCommands, tenantTargets, type ServerTarget } from './apply';
import type { EdgeModel, EdgePool } from './model';
import type { ServerRuntimeState } from './runtime-api';

const state = (backend: string, server: string, admin: 'ready' | 'drain' | 'maint'): [string, ServerRuntimeState] =>
  [`${backend}/${server}`, { backend, server, opState: 2, adminState: admin === 'maint' ? 1 : admin === 'drain' ? 8 : 0, maint: admin === 'maint', drain: admin === 'drain' }];

const pool = (name: string, extra: Partial<EdgePool>, live: 'blue' | 'green'): EdgePool => ({
  name, component: name, balance: 'roundrobin', secureCookie: false, websocket: false, health: '/health', ...extra,
  servers: (['blue', 'green'] as const).flatMap((c) => [
    { name: c, host: '127.0.0.1', port: 1, backup: false, disabled: c !== live },
    { name: `${c}_backup`, host: '127.0.0.1', port: 1, backup: true, disabled: c === live },
  ]),
});

const model = (live: 'blue' | 'green'): EdgeModel => ({
  name: 'e', topology: 'blue-green', http: { port: 80, addresses: [] }, runtime: { socketDir: '/run/haproxy' }, sites: [],
  tenants: [{ name: 'p', hosts: ['p.test'], color: live, routes: [], tls: false, pools: [
    pool('p_api', { cookie: 'veza_srv_p', websocket: true }, live),
    pool('p_sticky', { cookie: 'veza_srv_p' }, live),
    pool('p_web', {}, live),
  ] }],
});

test('a switch is one batch: the new colour comes into service first, then every pool\'s old colour goes straight to maintenance — plain, sticky or WebSocket, none through drain', () => {
  const blue = tenantTargets(model('blue'), 'p');
  const current = new Map(blue.map((t) => state(t.backend, t.server, t.state)));
  const commands = runtimeCommands(current, tenantTargets(model('green'), 'p'));
  const ready = ['p_api', 'p_sticky', 'p_web'].flatMap((b) => [`set server ${b}/green state ready`, `set server ${b}/blue_backup state ready`]);
  const maint = ['p_api', 'p_sticky', 'p_web'].flatMap((b) => [`set server ${b}/blue state maint`, `set server ${b}/green_backup state maint`]);
  assert.deepEqual([...commands].sort(), [...ready, ...maint].sort());
  assert.deepEqual(commands.map((c) => c.split(' ').pop()), [...Array(6).fill('ready'), ...Array(6).fill('maint')]);
});

test('servers already in their target state get no command; a restored drain state is set as it was', () => {
  const current = new Map([state('p_web', 'blue', 'maint'), state('p_web', 'green', 'ready'), state('p_web', 'blue_backup', 'ready')]);
  const targets: ServerTarget[] = [
    { backend: 'p_web', server: 'blue', state: 'drain' },
    { backend: 'p_web', server: 'green', state: 'ready' },
    { backend: 'p_web', server: 'blue_backup', state: 'ready' },
  ];
  assert.deepEqual(runtimeCommands(current, targets), ['set server p_web/blue state drain']);
});
