import { test } from 'node:test';
import assert from 'node:assert/strict';
import { componentSchema, runtimeDeclaration } from '../config/component';
import type { ServerTraffic } from '../edge/runtime-api';
import { parseServerTraffic } from '../edge/runtime-api';
import type { VezaError } from '../log/errors';
import { bakeColor, describeBake, type BakeSettings } from './bake';
import type { DeployEdge } from './edge-port';

const api = runtimeDeclaration(componentSchema.parse({ name: 'veza-api', build: { preset: 'go' }, run: { command: ['./veza-api'], port: 8080, health: '/health' }, edge: { backend: 'backend_api', prefixes: ['/api'] } }));
const worker = runtimeDeclaration(componentSchema.parse({ name: 'veza-worker', build: { preset: 'go' }, run: { command: ['./w'], port: 8090, health: '/health' } }));
const settings = (over: Partial<BakeSettings> = {}): BakeSettings => ({ seconds: 1, maxErrorRatio: 0.05, minRequests: 20, intervalMs: 100, ...over });

/** An edge whose counters move by `step` on every read after the first. */
function edgeWith(steps: ServerTraffic[], start: ServerTraffic = { responses: 1_000, errors: 7 }): DeployEdge & { reads: number } {
  const edge = {
    reads: 0,
    async traffic() {
      const moved = steps.slice(0, edge.reads).reduce((a, s) => ({ responses: a.responses + s.responses, errors: a.errors + s.errors }), start);
      edge.reads++;
      return { 'veza-api': moved };
    },
  };
  return edge as unknown as DeployEdge & { reads: number };
}

test('the gate counts only what the new colour answered since the switch, and passes a healthy window', async () => {
  const edge = edgeWith(Array(20).fill({ responses: 10, errors: 0 }));
  const f = await bakeColor(edge, 'green', [api, worker], settings());
  assert.equal(f.errors, 0, 'errors before the window are not the release\'s');
  assert.ok(f.responses >= 50 && f.responses <= 110, `${f.responses} answers in about 1 s of 10 per 100 ms`);
  assert.deepEqual(Object.keys(f.components), ['veza-api'], 'only routed components take traffic at the edge');
  assert.match(describeBake(f), /^0 of \d+ answers \(0\.0 %\) in [01]\.\d s — veza-api 0\/\d+$/);
});

test('the gate fails as soon as enough answers show a ratio above its threshold, naming the figures', async () => {
  const edge = edgeWith(Array(50).fill({ responses: 10, errors: 2 }));
  const started = Date.now();
  const err = await bakeColor(edge, 'green', [api], settings({ seconds: 30 })).then(() => undefined, (e: VezaError) => e);
  assert.equal(err?.code, 'BAKE_FAILED');
  assert.match(err!.message, /^the green colour failed 4 of 20 answers \(20\.0 %\) in [\d.]+ s — veza-api 4\/20, above the gate's 5\.0 %$/);
  assert.ok(Date.now() - started < 5_000, 'it did not wait for the end of its 30 s window');
});

test('too little traffic to judge passes; a reload that resets the counters counts from zero', async () => {
  const quiet = await bakeColor(edgeWith([{ responses: 3, errors: 3 }]), 'blue', [api], settings({ seconds: 0.3 }));
  assert.ok(quiet.responses < 20, 'below minRequests the ratio is not judged');
  // After the first read the worker is new: its counters restart below the starting figures.
  const reset = edgeWith([{ responses: -990, errors: -7 }, { responses: 5, errors: 0 }]);
  const f = await bakeColor(reset, 'blue', [api], settings({ seconds: 0.3 }));
  assert.ok(f.responses >= 10 && f.errors === 0, `${JSON.stringify(f)}`);
});

test('show stat: each server\'s answers and failures; frontends and backends are not servers', () => {
  const csv = [
    '# pxname,svname,qcur,scur,econ,eresp,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,status',
    'edge,FRONTEND,,3,,,0,500,0,2,1,0,OPEN',
    'staging_backend_api,green,0,1,2,1,0,90,0,3,5,0,UP',
    'staging_backend_api,blue,0,0,,,,,,,,,MAINT',
    'staging_backend_api,BACKEND,0,1,2,1,0,90,0,3,5,0,UP',
    '',
  ].join('\n');
  const t = parseServerTraffic(csv);
  assert.deepEqual([...t.keys()], ['staging_backend_api/green', 'staging_backend_api/blue']);
  assert.deepEqual(t.get('staging_backend_api/green'), { responses: 101, errors: 8 });
  assert.deepEqual(t.get('staging_backend_api/blue'), { responses: 0, errors: 0 });
  assert.throws(() => parseServerTraffic('# pxname,svname,scur\n'), /unexpected "show stat" answer: no hrsp_1xx/);
});
