import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Tree } from '@nx/devkit';
import { parse } from 'yaml';
import { environmentSchema } from '@veza/engine/config/environment';
import { renderHaproxyConfig } from '@veza/engine/edge/render';
import { generateCiWorkflow, WORKFLOW_FILE } from '../ci-workflow/generator';
import { edgeModels, readDeclarations } from '../shared/tree-config';
import { assertRefused, workspaceTree } from '../testing/workspace-tree';
import environmentGenerator, { generateEnvironment, type EnvironmentGeneratorOptions } from './generator';

function rendered(tree: Tree, edge: string): string {
  return renderHaproxyConfig(edgeModels(readDeclarations(tree)).find((m) => m.name === edge)!);
}

function refused(tree: Tree, options: EnvironmentGeneratorOptions, message: RegExp, code: string): void {
  assertRefused(tree, (t) => generateEnvironment(t, options), message, code);
}

test('a local environment: valid, on the local edge, with the next free 127.77.N subnet', () => {
  const tree = workspaceTree();
  generateEnvironment(tree, { name: 'dev2', driver: 'local', hosts: 'dev2.localhost' });
  const text = tree.read('infra/environments/dev2.yaml', 'utf8')!;
  const env = environmentSchema.parse(parse(text));
  assert.equal(env.local?.subnet, '127.77.2');
  assert.equal(env.prefix, 'veza-dev2-');
  assert.equal(env.edge, 'local-edge');
  assert.equal(env.publicUrl, 'http://dev2.localhost:18080');
  // Shared with `local`, the one other local environment.
  assert.deepEqual(env.registry, { url: 'file:.veza/registry', owner: 'veza' });
  assert.deepEqual(env.verify, { retries: 20, intervalMs: 250 });
  assert.match(text, /^# dev2: driver local, edge local-edge, settings shared with local;\n/);

  generateEnvironment(tree, { name: 'dev3', driver: 'local', hosts: 'dev3.localhost' });
  assert.equal(environmentSchema.parse(parse(tree.read('infra/environments/dev3.yaml', 'utf8')!)).local?.subnet, '127.77.3');
});

test('the edge gives a new environment its Host ACL and its own pool for every component', () => {
  const tree = workspaceTree();
  generateEnvironment(tree, { name: 'dev2', driver: 'local', hosts: 'dev2.localhost,www.dev2.localhost' });
  const cfg = rendered(tree, 'local-edge');
  assert.match(cfg, /bind 127\.77\.2\.1:18080\n/);
  assert.match(cfg, /acl host_dev2 req\.hdr\(host\),host_only -m str dev2\.localhost www\.dev2\.localhost\n/);
  for (const pool of ['backend_api', 'stream_pool', 'web_pool']) {
    assert.match(cfg, new RegExp(`\\nbackend dev2_${pool}\\n`));
  }
  assert.match(cfg, /use_backend dev2_backend_api if host_dev2 route_dev2_backend_api\n/);
  assert.match(cfg, /use_backend dev2_web_pool if host_dev2\n/);
  assert.match(cfg, /backend dev2_backend_api\n[\s\S]*?server blue 127\.77\.2\.10:8080 cookie blue\n/);
});

test('an incus environment shares registry, Incus and data settings with its edge siblings', () => {
  const tree = workspaceTree();
  generateEnvironment(tree, { name: 'qa', driver: 'incus', hosts: 'qa.veza.fr', edge: 'veza-haproxy' });
  const env = environmentSchema.parse(parse(tree.read('infra/environments/qa.yaml', 'utf8')!));
  assert.equal(env.edge, 'veza-haproxy');
  assert.equal(env.publicUrl, 'https://qa.veza.fr');
  assert.equal(env.registry.tokenEnv, 'FORGEJO_REGISTRY_TOKEN');
  assert.equal(env.data.postgres.passwordEnv, 'VEZA_POSTGRES_PASSWORD');
  assert.equal(env.incus?.dnsSuffix, 'lxd');
  assert.equal(env.local, undefined);
  const cfg = rendered(tree, 'veza-haproxy');
  assert.match(cfg, /acl host_qa req\.hdr\(host\),host_only -m str qa\.veza\.fr\n/);
  assert.match(cfg, /backend qa_backend_api\n[\s\S]*?server blue veza-qa-api-blue\.lxd:8080 cookie blue\n/);
  // Its sticky cookie is its own, so a qa session never rides into prod.
  assert.match(cfg, /cookie veza_srv_qa insert indirect nocache httponly secure\n/);
});

test('bad input is refused with one reason and nothing is written', () => {
  const tree = workspaceTree();
  const ok = { name: 'qa', driver: 'incus', hosts: 'qa.veza.fr', edge: 'veza-haproxy' };
  refused(tree, { ...ok, name: 'QA' }, /invalid environment name "QA"/, 'INVALID_INPUT');
  refused(tree, { ...ok, name: 'staging' }, /infra\/environments\/staging\.yaml already exists/, 'ALREADY_EXISTS');
  refused(tree, { ...ok, driver: 'docker' }, /unknown driver "docker"/, 'INVALID_INPUT');
  refused(tree, { ...ok, hosts: '' }, /invalid host "" in --hosts/, 'INVALID_INPUT');
  refused(tree, { ...ok, hosts: 'QA.veza.fr' }, /invalid host "QA\.veza\.fr"/, 'INVALID_INPUT');
  refused(tree, { ...ok, hosts: 'qa.veza.fr,qa.veza.fr' }, /lists a host twice/, 'INVALID_INPUT');
  refused(tree, { ...ok, edge: 'nope' }, /unknown edge "nope"/, 'UNKNOWN_EDGE');
  refused(tree, { ...ok, edge: 'local-edge' }, /edge local-edge cannot serve a driver-incus environment/, 'INVALID_INPUT');
  refused(tree, { ...ok, edge: 'veza-lab' }, /edge veza-lab cannot serve a driver-incus environment \(it is a multi-instance edge/, 'INVALID_INPUT');
  // A host another environment or site of the edge already answers for.
  refused(tree, { ...ok, hosts: 'veza.fr' }, /host veza\.fr is claimed by both environment prod and environment qa/, 'BAD_CONFIG');
  refused(tree, { ...ok, hosts: 'forgejo.talas.group' }, /host forgejo\.talas\.group is claimed by both/, 'BAD_CONFIG');
});

test('an incus environment with no sibling to share settings with is refused', () => {
  const tree = workspaceTree();
  for (const e of readDeclarations(tree).environments) if (e.driver === 'incus') tree.delete(`infra/environments/${e.name}.yaml`);
  refused(tree, { name: 'qa', driver: 'incus', hosts: 'qa.veza.fr', edge: 'veza-haproxy' }, /there is no incus environment to take the registry, Incus and data settings from/, 'NO_TEMPLATE');
});

test('--edge defaults to the one blue-green edge of the driver, and must be given when there are several', () => {
  const tree = workspaceTree();
  tree.write('infra/edges/second-local.yaml', tree.read('infra/edges/local-edge.yaml', 'utf8')!.replace('name: local-edge', 'name: second-local').replace('port: 18080', 'port: 18081'));
  refused(tree, { name: 'dev2', driver: 'local', hosts: 'dev2.localhost' }, /several blue-green local edges in infra\/edges: local-edge, second-local/, 'INVALID_INPUT');
  tree.delete('infra/edges/second-local.yaml');
  generateEnvironment(tree, { name: 'dev2', driver: 'local', hosts: 'dev2.localhost' });
  assert.equal(environmentSchema.parse(parse(tree.read('infra/environments/dev2.yaml', 'utf8')!)).edge, 'local-edge');
});

test('running it twice: the second run refuses and changes nothing', () => {
  const tree = workspaceTree();
  generateEnvironment(tree, { name: 'qa', driver: 'incus', hosts: 'qa.veza.fr', edge: 'veza-haproxy' });
  refused(tree, { name: 'qa', driver: 'incus', hosts: 'qa.veza.fr', edge: 'veza-haproxy' }, /qa\.yaml already exists/, 'ALREADY_EXISTS');
});

test('an existing deploy workflow is regenerated so its environment choice includes the new one', () => {
  const tree = workspaceTree();
  generateEnvironment(tree, { name: 'dev2', driver: 'local', hosts: 'dev2.localhost' });
  assert.ok(!tree.exists(WORKFLOW_FILE), 'no workflow is created where there was none');
  generateCiWorkflow(tree);
  generateEnvironment(tree, { name: 'qa', driver: 'incus', hosts: 'qa.veza.fr', edge: 'veza-haproxy' });
  const wf = parse(tree.read(WORKFLOW_FILE, 'utf8')!);
  assert.deepEqual(wf.on.workflow_dispatch.inputs.env.options, ['prod', 'qa', 'staging']);
});

test('the Nx entry point reports bad input as one line', async () => {
  const tree = workspaceTree();
  await assert.rejects(environmentGenerator(tree, { name: 'qa', driver: 'incus', hosts: 'qa veza', edge: 'veza-haproxy' }), (e: Error) => {
    assert.equal(e.message, 'invalid host "qa veza" in --hosts — give comma-separated lower-case DNS names, e.g. --hosts=qa.veza.fr,www.qa.veza.fr');
    return true;
  });
});
