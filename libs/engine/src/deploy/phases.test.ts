import { test } from 'node:test';
import assert from 'node:assert/strict';
import { componentSchema } from '../config/component';
import { environmentSchema } from '../config/environment';
import type { SlotInfo, SlotState } from '../hosts/port';
import type { Context } from './context';
import { colorProblems } from './phases';

const env = environmentSchema.parse({
  name: 'staging', driver: 'local', prefix: 'veza-staging-', publicHosts: ['staging.localhost'], publicUrl: 'http://staging.localhost:18080',
  edge: 'local-edge', registry: { url: 'file:.veza/registry', owner: 'veza' }, local: { subnet: '127.77.9' },
});
const api = componentSchema.parse({ name: 'veza-api', build: { preset: 'node' }, run: { command: ['./veza-api'], port: 8080, health: '/health' } });
const SHA = 'ab'.repeat(20);

/** Just what colorProblems reads: the slot list and the in-slot health probe. */
function ctxWith(state: SlotState, healthy: boolean): Context {
  const slot: SlotInfo = { name: 'veza-staging-api-green', component: 'veza-api', role: 'green', state, release: SHA, host: '127.77.9.11', port: 8080 };
  return {
    env,
    components: [api],
    ports: { driver: { list: async () => [slot] }, checks: { isHealthy: async () => healthy } },
  } as unknown as Context;
}

test('a colour is refused only on what was read: an unread state is decided by the in-slot probe', async () => {
  assert.deepEqual(await colorProblems(ctxWith('running', true), 'green', SHA, ['veza-api']), []);
  assert.deepEqual(await colorProblems(ctxWith('unknown', true), 'green', SHA, ['veza-api']), [], 'the probe answered: the slot runs');
  assert.deepEqual(await colorProblems(ctxWith('unknown', false), 'green', SHA, ['veza-api']), ['veza-staging-api-green does not answer /health']);
  assert.deepEqual(await colorProblems(ctxWith('stopped', true), 'green', SHA, ['veza-api']), ['veza-staging-api-green is stopped']);
});
