import { test } from 'node:test';
import assert from 'node:assert/strict';
import { componentSchema, runtimeDeclaration, type RuntimeDeclaration } from '../config/component';
import { buildReleaseManifest } from '../release/manifest';
import { describeDiff, diffReleases, type DiffSide } from './diff';

const A = 'a1'.repeat(20);
const B = 'b2'.repeat(20);
const decl = (name: string, over: { health?: string; prefixes?: string[]; needs?: string[]; env?: string[] } = {}): RuntimeDeclaration => runtimeDeclaration(componentSchema.parse({
  name, build: { preset: 'node' },
  run: { command: ['node', 'server.js'], port: name === 'api' ? 8080 : 8081, health: over.health ?? '/health', needs: over.needs ?? [], env: { required: over.env ?? [], optional: [] } },
  edge: { backend: `${name}_pool`, prefixes: over.prefixes ?? [`/${name}`] },
}));
const side = (sha: string, parts: { decl: RuntimeDeclaration; bytes: string; size?: number }[]): DiffSide => ({
  manifest: buildReleaseManifest(sha, parts.map((p) => ({ component: p.decl.name, package: p.decl.name, version: sha, file: `${p.decl.name}-${sha}.tar.zst`, sha256: p.bytes.repeat(64).slice(0, 64), size: p.size ?? 2048, declaration: p.decl })), { owner: 'veza', createdAt: new Date('2026-12-03T00:00:00Z') }),
  declarations: parts.map((p) => p.decl),
});

test('the diff names each component\'s artifact and every declaration that moved, and variable names but never values', () => {
  const live = side(A, [{ decl: decl('api', { env: ['DATABASE_URL'] }), bytes: 'a' }, { decl: decl('web'), bytes: 'b' }, { decl: decl('old'), bytes: 'c' }]);
  const next = side(B, [
    { decl: decl('api', { health: '/ready', prefixes: ['/api', '/api2'], needs: ['ca-certificates'], env: ['DATABASE_URL', 'API_KEY'] }), bytes: 'd', size: 3 * 1024 * 1024 },
    { decl: decl('web'), bytes: 'b' },
    { decl: decl('new'), bytes: 'e' },
  ]);
  const d = diffReleases(live, next);
  assert.deepEqual(d.components.map((c) => `${c.component} ${c.change}`), ['api changed', 'new added', 'old removed', 'web unchanged']);
  const api = d.components[0]!;
  assert.deepEqual(api.declarations, ['edge.prefixes: + /api2', 'run.health: /health → /ready', 'run.needs: + ca-certificates']);
  assert.deepEqual([api.varsAdded, api.varsRemoved], [['API_KEY'], []]);
  assert.deepEqual(api.artifact?.to, { version: B, sha256: 'd'.repeat(64), size: 3 * 1024 * 1024 });
  assert.deepEqual(describeDiff(d), [
    `api: changed (${A.slice(0, 12)} ${'a'.repeat(12)}… 2.0 KiB → ${B.slice(0, 12)} ${'d'.repeat(12)}… 3.0 MiB)`,
    '  edge.prefixes: + /api2',
    '  run.health: /health → /ready',
    '  run.needs: + ca-certificates',
    '  variables added: API_KEY',
    `new: added (none → ${B.slice(0, 12)} ${'e'.repeat(12)}… 2.0 KiB)`,
    `old: removed (${A.slice(0, 12)} ${'c'.repeat(12)}… 2.0 KiB → none)`,
    'web: unchanged',
  ]);
});

test('with nothing serving, every component is new', () => {
  const d = diffReleases(undefined, side(B, [{ decl: decl('api'), bytes: 'd' }]));
  assert.equal(d.from, undefined);
  assert.deepEqual(d.components.map((c) => c.change), ['added']);
});
