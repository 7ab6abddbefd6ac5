import { test } from 'node:test';
import assert from 'node:assert/strict';
import { componentSchema, runtimeDeclaration } from '../config/component';
import type { HistoryEntry } from '../state/history';
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
const entry = (declarations?: HistoryEntry['declarations']): HistoryEntry => ({
  sha: SHA, color: 'green', time: '2026-12-03T00:00:00.000Z', actor: 'dev', outcome: 'active', declarations,
  manifest: { owner: 'veza', package: 'veza-release', version: SHA, file: 'release.json', sha256: 'cd'.repeat(32) },
});

/** Just what colorProblems reads: the slot list and the in-slot health probe. */
function ctxWith(state: SlotState, healthy: boolean | ((path: string) => boolean)): Context {
  const slot: SlotInfo = { name: 'veza-staging-api-green', component: 'veza-api', role: 'green', state, release: SHA, host: '127.77.9.11', port: 8080 };
  return {
    env,
    components: [api],
    ports: { driver: { list: async () => [slot] }, checks: { isHealthy: async (t: { path: string }) => (typeof healthy === 'function' ? healthy(t.path) : healthy) } },
  } as unknown as Context;
}

test('a colour is refused only on what was read: an unread state is decided by the in-slot probe', async () => {
  assert.deepEqual(await colorProblems(ctxWith('running', true), 'green', entry()), []);
  assert.deepEqual(await colorProblems(ctxWith('unknown', true), 'green', entry()), [], 'the probe answered: the slot runs');
  assert.deepEqual(await colorProblems(ctxWith('unknown', false), 'green', entry()), ['veza-staging-api-green does not answer /health']);
  assert.deepEqual(await colorProblems(ctxWith('stopped', true), 'green', entry()), ['veza-staging-api-green is stopped']);
});

test('a colour is checked on the health path of the release it holds, not the workspace\'s', async () => {
  const older = { ...runtimeDeclaration(api), run: { ...api.run, health: '/healthz' } };
  const servesOnly = (path: string) => (p: string) => p === path;
  assert.deepEqual(await colorProblems(ctxWith('running', servesOnly('/healthz')), 'green', entry([older])), []);
  assert.deepEqual(await colorProblems(ctxWith('running', servesOnly('/healthz')), 'green', entry()), ['veza-staging-api-green does not answer /health'],
    'an entry without declarations falls back to the workspace\'s');
});
