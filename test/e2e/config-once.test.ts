import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { relative } from 'node:path';
import { otherColor, type Color } from '@veza/engine/config/names';
import { loadWorkspace } from '@veza/engine/config/workspace';
import { deploy } from '@veza/engine/deploy/deploy';
import { status } from '@veza/engine/deploy/status';
import { switchColor } from '@veza/engine/edge/switch';
import { isVezaError } from '@veza/engine/log/errors';
import { createMemoryLogger } from '@veza/engine/log/logger';
import { writeText } from '../support/stage-artifact';
import { e2eWorkspace, type E2eWorkspace } from './support/workspace';

/**
 * The workspace is read once per command (config/workspace.ts): each command
 * below starts as its executor does — loadWorkspace, then the engine call —
 * and every read of a config file on the way is counted through fs, the seam
 * every loader goes through. A broken environment file blocks only the
 * commands that need it: its own, and those on the edge it names.
 */
const A = 'c1'.repeat(20);
const CONFIG = /^(infra\/(environments|edges)\/[^/]+\.yaml|apps\/[^/]+\/component\.json)$/;

/** Config file → how many times the command read it. */
async function readsDuring(root: string, command: () => Promise<unknown>): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  const count = (p: unknown) => {
    const rel = relative(root, String(p));
    if (CONFIG.test(rel)) counts[rel] = (counts[rel] ?? 0) + 1;
  };
  const readFile = fs.promises.readFile.bind(fs.promises);
  const readFileSync = fs.readFileSync.bind(fs);
  const async = mock.method(fs.promises, 'readFile', ((p: fs.PathLike, ...rest: [never]) => (count(p), readFile(p, ...rest))) as typeof fs.promises.readFile);
  const sync = mock.method(fs, 'readFileSync', ((p: fs.PathLike, ...rest: [never]) => (count(p), readFileSync(p, ...rest))) as typeof fs.readFileSync);
  try {
    await command();
  } finally {
    async.mock.restore();
    sync.mock.restore();
  }
  return counts;
}

/** A second environment on an edge of its own: parsed with the rest, and no more often. */
async function addOtherEdge(ws: E2eWorkspace, octet: number): Promise<void> {
  await writeText(ws.root, 'infra/edges/other-edge.yaml', `name: other-edge\nhost: local\nhttp: { port: ${18400 + octet}, addresses: [127.79.${octet}.1] }\nruntime: { socketDir: "\${VEZA_EDGE_DIR}" }\n`);
  await writeText(ws.root, 'infra/environments/other.yaml', otherEnv(octet, 'other-edge'));
}

function otherEnv(octet: number, edge: string, name = 'other'): string {
  return [`name: ${name}`, 'driver: local', `prefix: veza-${name}-`, `publicHosts: [${name}.localhost]`, `publicUrl: http://${name}.localhost:${18400 + octet}`, `edge: ${edge}`,
    'registry: { url: "file:.veza/registry", owner: veza }', `local: { subnet: 127.79.${octet} }`, ''].join('\n');
}

test('deploy (dry-run and real), switch and status each read every config file once', async (t) => {
  const ws = await e2eWorkspace(t, 'once', { octet: 23 });
  await addOtherEdge(ws, 24);
  await ws.release(A);
  const files = ['apps/api/component.json', 'apps/web/component.json', 'infra/edges/e2e-once-edge.yaml', 'infra/edges/other-edge.yaml', `infra/environments/${ws.env}.yaml`, 'infra/environments/other.yaml'];
  const once = Object.fromEntries(files.map((f) => [f, 1]));

  assert.deepEqual(await readsDuring(ws.root, async () => deploy({ ...(await ws.options(A)), dryRun: true })), once, 'deploy --dry-run');
  let deployed: Color = 'blue';
  assert.deepEqual(await readsDuring(ws.root, async () => (deployed = (await deploy(await ws.options(A))).color)), once, 'deploy');
  const log = createMemoryLogger();
  const back = otherColor(deployed);
  assert.deepEqual(await readsDuring(ws.root, async () => switchColor({ workspace: await loadWorkspace(ws.root), env: ws.env, color: back, force: true, log })), once, 'switch');
  assert.deepEqual(await readsDuring(ws.root, async () => status(await ws.common())), once, 'status');
});

test('an edit during a command changes nothing it does: every phase reads the workspace loaded at its start', async (t) => {
  const ws = await e2eWorkspace(t, 'edit', { octet: 25 });
  await ws.release(A);
  const o = await ws.options(A);
  const envFile = `infra/environments/${ws.env}.yaml`;
  const kept = await Promise.all([envFile, 'apps/api/component.json'].map((f) => fs.promises.readFile(`${ws.root}/${f}`, 'utf8')));
  await writeText(ws.root, envFile, 'name: [broken\n');
  await writeText(ws.root, 'apps/api/component.json', '{');
  const r = await deploy({ ...o, dryRun: true });
  assert.equal(r.sha, A);
  await assert.rejects(loadWorkspace(ws.root), /apps\/api\/component\.json/, 'a command started now would see the edit');
  await writeText(ws.root, envFile, kept[0]!);
  await writeText(ws.root, 'apps/api/component.json', kept[1]!);
});

test('a broken environment blocks only its own edge: other edges deploy, its edge refuses naming the file', async (t) => {
  const ws = await e2eWorkspace(t, 'broken', { octet: 26 });
  await addOtherEdge(ws, 27);
  await ws.release(A);

  // A typo (unknown key) and a YAML syntax error, both on the other edge: not this deploy's business.
  await writeText(ws.root, 'infra/environments/other.yaml', otherEnv(27, 'other-edge').replace('driver: local', 'drivr: local'));
  await writeText(ws.root, 'infra/environments/other2.yaml', otherEnv(27, 'other-edge', 'other2') + 'retention: { history: 5\n');
  const r = await deploy({ ...(await ws.options(A)), dryRun: true });
  assert.equal(r.dryRun, true);
  await assert.rejects(deploy({ ...(await ws.options(A)), env: 'other', dryRun: true }), (e: unknown) =>
    isVezaError(e) && e.code === 'BAD_CONFIG' && /infra\/environments\/other\.yaml:2: drivr: unknown key/.test(e.message), 'the broken environment itself is refused');

  // The same typo in an environment on this deploy's edge: its config holds that environment's routes too.
  await writeText(ws.root, 'infra/environments/sibling.yaml', otherEnv(28, 'e2e-broken-edge', 'sibling').replace('driver: local', 'drivr: local'));
  await assert.rejects(deploy({ ...(await ws.options(A)), dryRun: true }), (e: unknown) => isVezaError(e) && e.code === 'BAD_CONFIG'
    && /^edge e2e-broken-edge serves every environment that names it, and infra\/environments\/sibling\.yaml cannot be read: /.test(e.message)
    && /infra\/environments\/sibling\.yaml:2: drivr: unknown key/.test(e.message)
    && /^fix infra\/environments\/sibling\.yaml/.test(e.hint) && !/other/.test(e.message));
});
