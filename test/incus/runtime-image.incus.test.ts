import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packDirectory } from '@veza/engine/artifact/pack';
import { environmentSchema } from '@veza/engine/config/environment';
import * as cli from '@veza/engine/hosts/incus/cli';
import { IncusClient } from '@veza/engine/hosts/incus/client';
import { createIncusDriver } from '@veza/engine/hosts/incus/driver';
import { isVezaError } from '@veza/engine/log/errors';
import { createProcessRunner, type Command } from '@veza/engine/ports/process';
import { ownBridge, wipeProject } from './support/project';

/**
 * Runtime images on real Incus: a small set of needs is built into an image
 * once from the tier's base image (timed), a second driver — a second
 * deploy — finds and reuses it (timed), a slot launched from it has the
 * packages and the artifact's files with their modes, and a need apt does
 * not know is refused naming it. The builder must reach the Debian archive,
 * which the tier's own bridge (no NAT) does not: this test brings a NAT
 * bridge of its own, and removes it, its project and its image afterwards.
 */
const NETWORK = 'vezaimgnat0';
const NEEDS = ['jq', 'bzip2'];

const env = environmentSchema.parse({
  name: 'img-test', driver: 'incus', prefix: 'veza-imgtest-', network: NETWORK, publicHosts: ['localhost'], publicUrl: 'http://localhost:18481',
  edge: 'veza-itest-haproxy', registry: { url: 'file:.veza/registry', owner: 'veza' },
  incus: { project: 'veza-imgtest', image: 'veza-test-base', dnsSuffix: 'incus', storagePool: 'veza-test-pool' },
});

function incus(args: string[]): Command {
  return { argv: [cli.INCUS, ...args], input: '', timeoutMs: 120_000, description: `incus ${args.slice(0, 2).join(' ')}` };
}

test('runtime images: built once from the base image, reused by the next deploy, slots launched from them; an unknown need is refused', { timeout: 30 * 60_000 }, async (t) => {
  const say = (m: string) => process.stderr.write(`[runtime-image] ${m}\n`);
  const runner = createProcessRunner();
  const removeBridge = await ownBridge(NETWORK, '10.231.78.1/24');
  await wipeProject(env);
  // One hook, in order: the network cannot go while the project's containers still use it.
  t.after(async () => {
    await wipeProject(env);
    await removeBridge();
  });

  const timed = async <T>(what: string, fn: () => Promise<T>): Promise<{ value: T; ms: number }> => {
    const t0 = Date.now();
    const value = await fn();
    const ms = Date.now() - t0;
    say(`${what}: ${(ms / 1000).toFixed(1)} s`);
    return { value, ms };
  };
  const slots = [{ component: 'veza-tool', needs: NEEDS }, { component: 'veza-static', needs: [] }];

  const steps: string[] = [];
  const first = await timed('first prepare (builds the image)', () => createIncusDriver({ env, runner }).prepare(slots, (l) => steps.push(l)));
  const alias = /(veza-runtime-[0-9a-f]{16})/.exec(steps.join('\n'))?.[1];
  assert.ok(alias, steps.join('\n'));
  t.after(() => runner.run(incus(['image', 'delete', alias])));
  // An image left by an earlier run would make the first call a reuse: the figure must be a build.
  if (/reused/.test(steps[0]!)) {
    await runner.run(incus(['image', 'delete', alias]));
    steps.length = 0;
    await timed('first prepare, again after deleting an earlier run\'s image', () => createIncusDriver({ env, runner }).prepare(slots, (l) => steps.push(l)));
  }
  assert.match(steps[0]!, new RegExp(`^veza-tool: ${alias} \\(bzip2 jq\\) built in `));
  assert.equal(steps[1], 'veza-static: the base image veza-test-base (no run.needs)');
  assert.match(first.value, /^2 image\(s\)/);

  const reuse: string[] = [];
  await timed('second prepare, a new driver (reuses the image)', () => createIncusDriver({ env, runner }).prepare(slots, (l) => reuse.push(l)));
  assert.equal(reuse[0], `veza-tool: ${alias} (bzip2 jq) reused`);

  const client = new IncusClient(runner, env.incus!.project);
  assert.deepEqual((await client.instances()).map((i) => i.name), [], 'the builder is gone');

  const dir = await fs.mkdtemp(join(tmpdir(), 'veza-runtime-image-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  await fs.mkdir(join(dir, 'src', 'bin'), { recursive: true });
  await fs.writeFile(join(dir, 'src', 'bin', 'tool'), '#!/bin/sh\necho ok\n', { mode: 0o755 });
  await fs.writeFile(join(dir, 'src', 'data.json'), '{"a":1}\n');
  const { sha256 } = await packDirectory(join(dir, 'src'), join(dir, 'tool.tar.zst'));
  const driver = createIncusDriver({ env, runner });
  await timed('create a slot from the runtime image', () => driver.create({
    name: 'veza-imgtest-tool-blue', env: env.name, component: 'veza-tool', role: 'blue', release: 'a'.repeat(40), artifactPath: join(dir, 'tool.tar.zst'), artifactSha256: sha256,
    command: ['bin/tool'], needs: NEEDS, bind: { host: '0.0.0.0', port: 8090 }, vars: {},
  }));
  const inside = async (argv: string[]) => (await client.output('veza-imgtest-tool-blue', argv)).trim();
  assert.equal(await inside(['jq', '.a', '/srv/veza/app/data.json']), '1', 'the declared packages are there, no apt ran in the slot');
  assert.equal(await inside(['stat', '-c', '%a %U %n', '/srv/veza/app/bin/tool', '/srv/veza/app/data.json']), '755 root /srv/veza/app/bin/tool\n644 root /srv/veza/app/data.json');
  // `wc -l` always prints a number: an empty answer is a read that failed (seen once under load), not a fact — read again.
  const pushed = () => inside(['sh', '-c', 'ls /var/lib/veza 2>/dev/null | wc -l']);
  assert.equal((await pushed()) || (await pushed()), '0', 'no artifact file was pushed');

  await assert.rejects(timed('an unknown need', () => createIncusDriver({ env, runner }).prepare([{ component: 'veza-tool', needs: ['jq', 'no-such-package-veza'] }], () => undefined)),
    (e: unknown) => isVezaError(e) && e.code === 'UNKNOWN_PACKAGE' && /^veza-tool needs no-such-package-veza \(run\.needs\), which apt does not know on the base image veza-test-base: Unable to locate package no-such-package-veza$/.test(e.message));
  assert.deepEqual((await client.instances()).map((i) => i.name), ['veza-imgtest-tool-blue'], 'the failed builder is gone too');
});
