import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { deploy } from '@veza/engine/deploy/deploy';
import { readAudit } from '@veza/engine/deploy/audit';
import { readActiveColor } from '@veza/engine/state/history';
import { createDirStateStore } from '@veza/engine/ports/state-store';
import { localEdgeDir } from '@veza/engine/edge/local-edge-host';
import type { VezaError } from '@veza/engine/log/errors';
import { e2eWorkspace } from './support/workspace';
import { snapshotTree } from './support/tree';

/**
 * Deploy hooks on the real local tier: infra/hooks/<event> run with the
 * facts in VEZA_* variables and none of the deployer's secrets; a failing
 * pre-deploy hook stops the deploy before anything changes, a failing
 * on-failure hook never hides the deploy's own error, and every run is in
 * the audit line.
 */
const A = 'a2'.repeat(20);
const B = 'b2'.repeat(20);
const BROKEN = 'c2'.repeat(20);
const SECRET = 'hook-must-never-see-this-0123456789';

type Coded = VezaError & { code: string };

test('deploy hooks run at their points with the facts and no secret, and never hide a failure', async (t) => {
  const ws = await e2eWorkspace(t, 'hooks', { octet: 7 });
  const store = createDirStateStore(join(localEdgeDir(ws.root, `${ws.env}-edge`), 'state'));
  const seen = join(ws.root, 'hook-calls.log');
  const hook = async (event: string, body: string, mode = 0o755) => {
    await fs.mkdir(join(ws.root, 'infra/hooks'), { recursive: true });
    await fs.writeFile(join(ws.root, 'infra/hooks', event), `#!/bin/sh\n${body}\n`, { mode });
    await fs.chmod(join(ws.root, 'infra/hooks', event), mode);
  };
  const record = `printf '%s %s release=%s previous=%s color=%s outcome=%s actor=%s secret=%s\\n' "$VEZA_HOOK" "$VEZA_ENV" "$VEZA_RELEASE" "$VEZA_PREVIOUS_RELEASE" "$VEZA_COLOR" "$VEZA_OUTCOME" "$VEZA_ACTOR" "\${REGISTRY_TOKEN:-none}" >> "${seen}"`;
  const withSecret = async (sha: string) => {
    const o = await ws.options(sha);
    return { ...o, processEnv: { ...o.processEnv, REGISTRY_TOKEN: SECRET } };
  };

  await ws.release(A);
  await deploy(await withSecret(A));

  await t.test('a hook that is not executable is refused before anything changes', async () => {
    await hook('pre-deploy', 'exit 0', 0o644);
    await ws.release(B);
    const before = await snapshotTree(join(ws.root, '.veza'));
    const err = await deploy(await withSecret(B)).then(() => undefined, (e: Coded) => e);
    assert.equal(err?.code, 'BAD_HOOK', err?.message);
    assert.match(err!.message, /infra\/hooks\/pre-deploy is not executable/);
    assert.match(err!.hint, /chmod \+x infra\/hooks\/pre-deploy/);
    assert.deepEqual(await snapshotTree(join(ws.root, '.veza')), before, 'refused before the lock: nothing under .veza changed');
  });

  await t.test('a failing pre-deploy hook stops the deploy before it changes anything, and its output is audited', async () => {
    await hook('pre-deploy', `${record}\necho "change freeze until monday" >&2\nexit 3`);
    const err = await deploy(await withSecret(B)).then(() => undefined, (e: Coded) => e);
    assert.equal(err?.code, 'HOOK_FAILED', err?.message);
    assert.match(err!.message, /the pre-deploy hook exited 3 in \d+ ms: change freeze until monday/);
    assert.equal(await ws.releaseAt('/api/status'), A, 'the live release is untouched');
    const [last] = await readAudit(store, { env: ws.env, limit: 1 });
    assert.deepEqual([last?.outcome, last?.hooks?.[0]?.event, last?.hooks?.[0]?.exitCode], ['failure', 'pre-deploy', 3]);
    assert.match(last!.hooks![0]!.output, /change freeze until monday/);
  });

  await t.test('every hook gets the facts of its point and none of the deployer\'s secrets', async () => {
    await fs.rm(seen, { force: true });
    for (const event of ['pre-deploy', 'post-switch', 'post-deploy', 'on-failure']) await hook(event, record);
    await deploy(await withSecret(B));
    const lines = (await fs.readFile(seen, 'utf8')).trim().split('\n');
    const live = await readActiveColor(store, ws.env);
    assert.deepEqual(lines.map((l) => l.replace(/ actor=\S+/, '')), [
      `pre-deploy ${ws.env} release=${B} previous=${A} color=${live} outcome= secret=none`,
      `post-switch ${ws.env} release=${B} previous=${A} color=${live} outcome= secret=none`,
      `post-deploy ${ws.env} release=${B} previous=${A} color=${live} outcome=success secret=none`,
    ]);
    const [last] = await readAudit(store, { env: ws.env, limit: 1 });
    assert.deepEqual(last?.hooks?.map((h) => `${h.event} ${h.exitCode}`), ['pre-deploy 0', 'post-switch 0', 'post-deploy 0']);
    assert.doesNotMatch(JSON.stringify(await readAudit(store, { env: ws.env })), new RegExp(SECRET));
  });

  await t.test('a failing on-failure hook never hides the deploy\'s own error', async () => {
    await hook('on-failure', `${record}\necho "pager is down" >&2\nexit 9`);
    await ws.release(BROKEN, { api: { healthy: false } });
    const err = await deploy(await withSecret(BROKEN)).then(() => undefined, (e: Coded) => e);
    assert.equal(err?.code, 'HEALTH_FAILED', err?.message);
    const lines = (await fs.readFile(seen, 'utf8')).trim().split('\n');
    assert.match(lines.at(-1)!, new RegExp(`^on-failure ${ws.env} release=${BROKEN} previous=${B} color=\\w+ outcome=failure `));
    const [last] = await readAudit(store, { env: ws.env, limit: 1 });
    assert.deepEqual(last?.hooks?.map((h) => `${h.event} ${h.exitCode}`), ['pre-deploy 0', 'on-failure 9']);
    assert.match(last?.message ?? '', /health/i);
    assert.equal(await ws.releaseAt('/api/status'), B);
  });
});
