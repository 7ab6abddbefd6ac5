import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { isVezaError } from '../log/errors';
import { loadWorkspace } from './workspace';

const EDGE = (name: string) => `name: ${name}\nhost: incus\nruntime: { socketDir: /run/haproxy }\n`;
const ENV = (name: string, edge: string) => [`name: ${name}`, 'driver: incus', `prefix: veza-${name}-`, `publicHosts: [${name}.example]`, `publicUrl: https://${name}.example`, `edge: ${edge}`, 'registry: { url: "file:x", owner: o }', ''].join('\n');

async function workspace(t: { after(fn: () => unknown): void }, files: Record<string, string>): Promise<string> {
  const root = await fs.mkdtemp(join(tmpdir(), 'veza-workspace-'));
  t.after(() => fs.rm(root, { recursive: true, force: true }));
  for (const [rel, text] of Object.entries(files)) {
    await fs.mkdir(dirname(join(root, rel)), { recursive: true });
    await fs.writeFile(join(root, rel), text);
  }
  return root;
}

const coded = (code: string, re: RegExp) => (e: unknown) => isVezaError(e) && e.code === code && re.test(e.message);

test('names are checked once: environments come back typed, on existing edges, local by default', async (t) => {
  const root = await workspace(t, {
    'infra/edges/e1.yaml': EDGE('e1'),
    'infra/environments/local.yaml': ENV('local', 'e1'),
    'infra/environments/lost.yaml': ENV('lost', 'nowhere'),
    'infra/environments/renamed.yaml': ENV('other', 'e1'),
  });
  const ws = await loadWorkspace(root);
  assert.deepEqual(ws.envNames, ['local', 'lost', 'renamed']);
  assert.equal(ws.env().name, 'local');
  assert.throws(() => ws.env('lost'), coded('UNKNOWN_EDGE', /lost\.yaml: edge "nowhere" has no infra\/edges\/nowhere\.yaml/));
  assert.throws(() => ws.env('renamed'), coded('BAD_CONFIG', /renamed\.yaml: name "other" differs from the file name/));
  assert.throws(() => ws.env('Prod;rm'), coded('INVALID_INPUT', /invalid environment name/));
  assert.throws(() => ws.env('prod'), (e: unknown) => isVezaError(e) && e.code === 'UNKNOWN_ENV' && /use one of: local, lost, renamed/.test(e.hint));
  assert.throws(() => ws.envsOn('e1'), coded('BAD_CONFIG', /^edge e1 serves every environment that names it, and infra\/environments\/renamed\.yaml cannot be read/), 'lost.yaml names another edge: only renamed.yaml blocks e1');
});

test('a broken file blocks its own edge, a file whose edge cannot be told blocks every edge, a broken edge only its environments', async (t) => {
  const files = {
    'infra/edges/e1.yaml': EDGE('e1'),
    'infra/edges/e2.yaml': EDGE('e2'),
    'infra/edges/bad.yaml': 'name: bad\nhost: nowhere\n',
    'infra/environments/a.yaml': ENV('a', 'e1'),
    'infra/environments/b.yaml': ENV('b', 'e2').replace('driver:', 'drivr:'),
    'infra/environments/c.yaml': ENV('c', 'e2') + 'retention: { history: 5\n',
    'infra/environments/d.yaml': ENV('d', 'bad'),
  };
  const ws = await loadWorkspace(await workspace(t, files));
  assert.deepEqual(ws.envsOn('e1').map((e) => e.name), ['a']);
  assert.throws(() => ws.envsOn('e2'), (e: unknown) => isVezaError(e) && e.code === 'BAD_CONFIG'
    && /^edge e2 serves every environment that names it, and infra\/environments\/b\.yaml, infra\/environments\/c\.yaml cannot be read: /.test(e.message)
    && /b\.yaml:2: drivr: unknown key/.test(e.message) && /c\.yaml:\d+: YAML syntax error/.test(e.message) && /^fix infra\/environments\/b\.yaml and infra\/environments\/c\.yaml/.test(e.hint));
  assert.throws(() => ws.env('d'), coded('BAD_CONFIG', /infra\/edges\/bad\.yaml:2: host/));
  assert.equal(ws.env('a').edge, 'e1');

  const lost = await loadWorkspace(await workspace(t, { ...files, 'infra/environments/z.yaml': 'name: z\n  edge: e1\n' }));
  assert.throws(() => lost.envsOn('e1'), coded('BAD_CONFIG', /z\.yaml cannot be read \(a file without a readable top-level edge: line may be on any edge\)/));
  assert.equal(lost.env('a').name, 'a', 'commands that need only their own environment still run');
});

test('every file is read at load: later edits do not reach a loaded workspace', async (t) => {
  const root = await workspace(t, { 'infra/edges/e1.yaml': EDGE('e1'), 'infra/environments/a.yaml': ENV('a', 'e1') });
  const ws = await loadWorkspace(root);
  await fs.writeFile(join(root, 'infra/environments/a.yaml'), ENV('a', 'e1').replace('a.example', 'edited.example'));
  await fs.rm(join(root, 'infra/edges/e1.yaml'));
  assert.deepEqual(ws.env('a').publicHosts, ['a.example']);
  assert.equal(ws.edge('e1').name, 'e1');
});

test('components are part of every release: a broken one fails the load, naming its file', async (t) => {
  const api = { name: 'api', build: { preset: 'node' }, run: { command: ['node', 'server.js'], port: 8080, health: '/health' } };
  const ok = await loadWorkspace(await workspace(t, { 'apps/api/component.json': JSON.stringify(api), 'apps/docs/README.md': 'no component here' }));
  assert.deepEqual(ok.components.map((c) => c.name), ['api']);
  await assert.rejects(loadWorkspace(await workspace(t, { 'apps/api/component.json': JSON.stringify({ ...api, name: 'web' }) })), coded('BAD_COMPONENT', /apps\/api\/component\.json: name "web" differs from its folder "api"/));
  await assert.rejects(loadWorkspace(await workspace(t, { 'apps/api/component.json': JSON.stringify(api), 'apps/web/component.json': JSON.stringify({ ...api, name: 'web' }) })), coded('BAD_COMPONENT', /both use port 8080/));
});

test('a bake threshold outside 0–1 and an autoPromoteSeconds out of range are refused with file:line and the range', async (t) => {
  const ws = await loadWorkspace(await workspace(t, {
    'infra/edges/e1.yaml': EDGE('e1'),
    'infra/environments/ratio.yaml': ENV('ratio', 'e1') + 'bake: { seconds: 60, maxErrorRatio: 1.5 }\n',
    'infra/environments/negative.yaml': ENV('negative', 'e1') + 'bake:\n  maxErrorRatio: -0.1\n',
    'infra/environments/forever.yaml': ENV('forever', 'e1') + 'autoPromoteSeconds: 86400\n',
    'infra/environments/fraction.yaml': ENV('fraction', 'e1') + 'autoPromoteSeconds: 1.5\n',
    'infra/environments/fine.yaml': ENV('fine', 'e1') + 'autoPromoteSeconds: 300\nbake: { maxErrorRatio: 1 }\n',
  }));
  assert.throws(() => ws.env('ratio'), coded('BAD_CONFIG', /ratio\.yaml:8: bake\.maxErrorRatio: must be a ratio from 0 to 1/));
  assert.throws(() => ws.env('negative'), coded('BAD_CONFIG', /negative\.yaml:9: bake\.maxErrorRatio: must be a ratio from 0 to 1/));
  assert.throws(() => ws.env('forever'), coded('BAD_CONFIG', /forever\.yaml:8: autoPromoteSeconds: must be from 0 \(off\) to 3600 seconds/));
  assert.throws(() => ws.env('fraction'), coded('BAD_CONFIG', /fraction\.yaml:8: autoPromoteSeconds: must be a whole number of seconds/));
  assert.deepEqual([ws.env('fine').autoPromoteSeconds, ws.env('fine').bake.maxErrorRatio], [300, 1], 'the bounds themselves are allowed');
});
