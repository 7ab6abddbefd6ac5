import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runtimeCommands, type ServerTarget } from './apply';
import type { ServerRuntimeState } from './runtime-api';

const state = (backend: string, server: string, admin: 'ready' | 'maint'): [string, ServerRuntimeState] =>
  [`${backend}/${server}`, { backend, server, opState: 2, adminState: admin === 'maint' ? 1 : 0, maint: admin === 'maint', drain: false }];

test('a switch retires a sticky or WebSocket pool\'s colour straight to maintenance, a plain pool\'s through drain', () => {
  const current = new Map([state('p_api', 'blue', 'ready'), state('p_api', 'green', 'maint'), state('p_web', 'blue', 'ready'), state('p_web', 'green', 'maint')]);
  const targets: ServerTarget[] = [
    { backend: 'p_api', server: 'blue', state: 'maint', direct: true },
    { backend: 'p_api', server: 'green', state: 'ready', direct: true },
    { backend: 'p_web', server: 'blue', state: 'maint', direct: false },
    { backend: 'p_web', server: 'green', state: 'ready', direct: false },
  ];
  assert.deepEqual(runtimeCommands(current, targets), {
    first: ['set server p_api/green state ready', 'set server p_web/green state ready', 'set server p_api/blue state maint', 'set server p_web/blue state drain'],
    afterDrain: ['set server p_web/blue state maint'],
  });
});
