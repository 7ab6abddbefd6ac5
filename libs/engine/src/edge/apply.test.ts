import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VezaError } from '../log/errors';
import { applyRuntime, runtimeCommands, tenantTargets, type ServerTarget } from './apply';
import type { EdgeHost } from './edge-host';
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

test('a batch whose answer was lost is checked against the servers\' states and what is left is sent again, once', async () => {
  const header = '# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port';
  const admin = new Map(tenantTargets(model('blue'), 'p').map((t) => [`${t.backend}/${t.server}`, t.state]));
  const sent: string[][] = [];
  const host = {
    async runtime(commands: string[]) {
      if (commands[0] === 'show servers state') {
        const rows = [...admin].map(([k, a], i) => `3 ${k.split('/')[0]} ${i + 1} ${k.split('/')[1]} 127.0.0.1 2 ${a === 'maint' ? 1 : a === 'drain' ? 8 : 0} 1 1 6 15 3 4 6 0 0 0 - 1 - 0 0 - - 0`);
        return ['1', header, ...rows, ''].join('\n');
      }
      sent.push(commands);
      // The first batch: HAProxy applies its first half, and the answer never comes back.
      const applied = sent.length === 1 ? commands.slice(0, commands.length / 2) : commands;
      for (const c of applied) {
        const [, , server, , state] = c.split(' ');
        admin.set(server!, state as 'ready' | 'maint');
      }
      if (sent.length === 1) throw new VezaError('the answer was lost', 'check', 'EDGE_ANSWER_LOST');
      return '';
    },
  } as unknown as EdgeHost;
  await applyRuntime(host, tenantTargets(model('green'), 'p'));
  assert.equal(sent.length, 2);
  assert.deepEqual(sent[1], sent[0]!.slice(sent[0]!.length / 2), 'only what the first batch did not do is sent again');
  assert.deepEqual([...admin].filter(([, a]) => a === 'ready').map(([k]) => k).sort(), ['p_api/blue_backup', 'p_api/green', 'p_sticky/blue_backup', 'p_sticky/green', 'p_web/blue_backup', 'p_web/green']);
});
