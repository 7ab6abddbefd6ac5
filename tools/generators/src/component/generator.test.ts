import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Tree } from '@nx/devkit';
import { componentSchema } from '@veza/engine/config/component';
import { renderHaproxyConfig } from '@veza/engine/edge/render';
import { edgeModels, readDeclarations } from '../shared/tree-config';
import { assertRefused, snapshot, workspaceTree } from '../testing/workspace-tree';
import componentGenerator, { generateComponent, type ComponentGeneratorOptions } from './generator';

function rendered(tree: Tree): Record<string, string> {
  return Object.fromEntries(edgeModels(readDeclarations(tree)).map((m) => [m.name, renderHaproxyConfig(m)]));
}

function refused(tree: Tree, options: ComponentGeneratorOptions, message: RegExp, code: string): void {
  assertRefused(tree, (t) => generateComponent(t, options), message, code);
}

test('a node component: code, tests and a component.json the engine accepts', () => {
  const tree = workspaceTree();
  generateComponent(tree, { name: 'demo-svc', kind: 'node', port: 8090, routes: '/demo,/demo-api' });
  const created = tree.listChanges().filter((c) => c.path.startsWith('apps/demo-svc/')).map((c) => c.path).sort();
  assert.deepEqual(created, [
    'apps/demo-svc/component.json',
    'apps/demo-svc/src/main.ts',
    'apps/demo-svc/src/server.ts',
    'apps/demo-svc/test/main.test.ts',
    'apps/demo-svc/test/server.test.ts',
  ]);
  const raw = JSON.parse(tree.read('apps/demo-svc/component.json', 'utf8')!);
  assert.deepEqual(raw, {
    name: 'demo-svc',
    build: { preset: 'node', entries: { server: 'src/main.ts' } },
    run: { command: ['node', 'server.js'], port: 8090, health: '/demo/health', status: '/demo/status' },
    edge: { backend: 'demo_svc_pool', prefixes: ['/demo', '/demo-api'] },
  });
  assert.ok(componentSchema.safeParse(raw).success);
  assert.match(tree.read('apps/demo-svc/test/main.test.ts', 'utf8')!, /const MAIN = 'apps\/demo-svc\/src\/main\.ts';/);
  assert.ok(!tree.exists('apps/demo-svc/project.json'), 'targets come from the component-nodes plugin');
});

test('every edge and environment picks the component up: its pool per environment and its route ACL', () => {
  const tree = workspaceTree();
  const before = rendered(tree);
  generateComponent(tree, { name: 'demo-svc', kind: 'node', port: 8090, routes: '/demo' });
  const after = rendered(tree);
  for (const [edge, tenant] of [['local-edge', 'local'], ['veza-haproxy', 'staging'], ['veza-haproxy', 'prod'], ['veza-lab', 'lab']] as const) {
    assert.match(after[edge], new RegExp(`acl route_${tenant}_demo_svc_pool path /demo\n`));
    assert.match(after[edge], new RegExp(`acl route_${tenant}_demo_svc_pool path_beg /demo/\n`));
  }
  assert.match(after['local-edge'], /use_backend local_demo_svc_pool if host_local route_local_demo_svc_pool\n/);
  assert.match(after['local-edge'], /backend local_demo_svc_pool\n[\s\S]*?server blue 127\.77\.1\.10:8090\n/);
  for (const env of ['staging', 'prod']) {
    assert.match(after['veza-haproxy'], new RegExp(`use_backend ${env}_demo_svc_pool if host_${env} route_${env}_demo_svc_pool\\n`));
    assert.match(after['veza-haproxy'], new RegExp(`backend ${env}_demo_svc_pool\\n[\\s\\S]*?http-check send meth GET uri /demo/health\\n`));
  }
  // Nothing else moved: every other section (the pools of the other components above all) renders as before.
  const sections = (cfg: string) => cfg.split('\n\n').filter((sec) => !sec.startsWith('frontend ') && !sec.startsWith('# Edge'));
  for (const [edge, cfg] of Object.entries(before)) {
    for (const sec of sections(cfg)) assert.ok(sections(after[edge]).includes(sec), `${edge}: ${sec.split('\n')[0]} unchanged`);
  }
});

test('each kind gets its own code, test and declaration', () => {
  const tree = workspaceTree();
  generateComponent(tree, { name: 'demo-ui', kind: 'vite', routes: '/ui' });
  generateComponent(tree, { name: 'demo-go', kind: 'go' });
  generateComponent(tree, { name: 'veza-rs', kind: 'cargo' });
  const files = (p: string) => tree.listChanges().filter((c) => c.path.startsWith(p)).map((c) => c.path.slice(p.length)).sort();
  assert.deepEqual(files('apps/demo-ui/'), ['component.json', 'index.html', 'server/serve.ts', 'server/site-server.ts', 'test/site-server.test.ts', 'tsconfig.app.json', 'ui/main.ts', 'vite.config.ts']);
  assert.deepEqual(files('apps/demo-go/'), ['cmd/demo-go/main.go', 'cmd/demo-go/main_test.go', 'component.json', 'go.mod']);
  assert.deepEqual(files('apps/veza-rs/'), ['Cargo.lock', 'Cargo.toml', 'component.json', 'src/main.rs']);

  const decl = (n: string) => componentSchema.parse(JSON.parse(tree.read(`apps/${n}/component.json`, 'utf8')!));
  assert.deepEqual(decl('demo-ui').build, { preset: 'vite', entries: { server: 'server/serve.ts' }, assets: [] });
  assert.match(tree.read('apps/demo-ui/vite.config.ts', 'utf8')!, /base: '\/ui\/',/);
  // Default ports: the first free ones from 8080; default route: the name without veza-.
  assert.deepEqual([decl('demo-ui').run.port, decl('demo-go').run.port, decl('veza-rs').run.port], [8083, 8084, 8085]);
  assert.deepEqual(decl('veza-rs').edge?.prefixes, ['/rs']);
  assert.equal(decl('veza-rs').edge?.backend, 'rs_pool');
  for (const n of ['demo-go', 'veza-rs']) {
    assert.deepEqual(decl(n).build.binaries, [n]);
    assert.deepEqual(decl(n).run.command, [`./${n}`]);
  }
  assert.match(tree.read('apps/demo-go/go.mod', 'utf8')!, /^module veza\.invalid\/demo-go\n\ngo 1\.19\n$/);
  assert.match(tree.read('apps/demo-go/cmd/demo-go/main.go', 'utf8')!, /healthPath  = "\/demo-go\/health"/);
  assert.match(tree.read('apps/veza-rs/Cargo.toml', 'utf8')!, /\[\[bin\]\]\nname = "veza-rs"/);
  assert.match(tree.read('apps/veza-rs/src/main.rs', 'utf8')!, /const DEFAULT_PORT: u16 = 8085;/);
});

test('bad input is refused with one reason and nothing is written', () => {
  const tree = workspaceTree();
  refused(tree, { name: 'Demo', kind: 'node' }, /invalid component name "Demo"/, 'INVALID_INPUT');
  refused(tree, { name: '9lives', kind: 'node' }, /invalid component name/, 'INVALID_INPUT');
  refused(tree, { name: 'demo_svc', kind: 'node' }, /invalid component name/, 'INVALID_INPUT');
  refused(tree, { name: '../etc', kind: 'node' }, /invalid component name/, 'INVALID_INPUT');
  refused(tree, { name: 'veza-', kind: 'node' }, /nothing usable follows "veza-"/, 'INVALID_INPUT');
  refused(tree, { name: 'veza-2d', kind: 'node' }, /nothing usable follows "veza-"/, 'INVALID_INPUT');
  refused(tree, { name: 'veza-api', kind: 'node' }, /apps\/veza-api already exists/, 'ALREADY_EXISTS');
  refused(tree, { name: 'demo', kind: 'python' }, /unknown component kind "python"/, 'INVALID_INPUT');
  refused(tree, { name: 'demo', kind: 'node', port: 8081 }, /port 8081 is already used by veza-web/, 'PORT_IN_USE');
  refused(tree, { name: 'demo', kind: 'node', port: 70000 }, /invalid port 70000/, 'INVALID_INPUT');
  refused(tree, { name: 'demo', kind: 'node', port: 80.5 }, /invalid port/, 'INVALID_INPUT');
  refused(tree, { name: 'demo', kind: 'node', routes: 'demo' }, /invalid route "demo"/, 'INVALID_INPUT');
  refused(tree, { name: 'demo', kind: 'node', routes: '/a,,/b' }, /invalid route ""/, 'INVALID_INPUT');
  refused(tree, { name: 'demo', kind: 'node', routes: '/a/' }, /invalid route "\/a\/"/, 'INVALID_INPUT');
  refused(tree, { name: 'demo', kind: 'node', routes: '/a b' }, /invalid route/, 'INVALID_INPUT');
  refused(tree, { name: 'demo', kind: 'node', routes: '/a,/a' }, /lists a path twice/, 'INVALID_INPUT');
  // The edge's own rule: routes may not overlap another component's.
  refused(tree, { name: 'demo', kind: 'node', routes: '/api/v1/demo' }, /edge prefix \/api\/v1\/demo of demo overlaps \/api\/v1 of veza-api/, 'BAD_COMPONENT');
  refused(tree, { name: 'demo', kind: 'node', routes: '/stream' }, /edge prefix \/stream of veza-stream overlaps \/stream of demo/, 'BAD_COMPONENT');
});

test('a name an Nx project already has is refused', () => {
  const tree = workspaceTree();
  tree.write('libs/engine/project.json', JSON.stringify({ name: 'engine' }));
  refused(tree, { name: 'engine', kind: 'node' }, /an Nx project named engine already exists/, 'ALREADY_EXISTS');
});

test('running it twice: the second run refuses and changes nothing', () => {
  const tree = workspaceTree();
  generateComponent(tree, { name: 'demo-svc', kind: 'node', port: 8090 });
  refused(tree, { name: 'demo-svc', kind: 'node', port: 8090 }, /apps\/demo-svc already exists/, 'ALREADY_EXISTS');
});

test('the Nx entry point reports bad input as one line: what went wrong — what to do', async () => {
  const tree = workspaceTree();
  await assert.rejects(componentGenerator(tree, { name: 'demo', kind: 'node', port: 8080 }), (e: Error) => {
    assert.equal(e.message, 'port 8080 is already used by veza-api — ports are unique across components; leave --port out to get the next free one');
    assert.ok(!e.message.includes('\n'));
    assert.equal(e.stack, '');
    return true;
  });
  assert.deepEqual(snapshot(tree), snapshot(workspaceTree()));
});
