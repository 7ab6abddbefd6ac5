import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { Environment } from '@veza/engine/config/environment';
import { loadWorkspace } from '@veza/engine/config/workspace';
import { copyRepository, type RepoCopy } from '../../e2e/support/copy';
import { wipeProject } from './project';

/**
 * What the Incus-tier files that drive a copy of the repository share: a
 * clock for their progress lines and timings (BENCHMARKS.md quotes them),
 * and the copy of the repository with an environment of its own.
 */
export function stopwatch(tag: string) {
  const started = Date.now();
  const timings: Record<string, number> = {};
  const say = (m: string) => process.stderr.write(`[${tag} +${((Date.now() - started) / 1000).toFixed(1)}s] ${m}\n`);
  const timed = async <T>(label: string, fn: () => Promise<T>): Promise<T> => {
    const t0 = Date.now();
    try {
      return await fn();
    } finally {
      timings[label] = (Date.now() - t0) / 1000;
      say(`${label}: ${timings[label]!.toFixed(1)} s`);
    }
  };
  const summary = () => say(`timings: ${JSON.stringify(timings)}; whole test ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return { say, timed, summary };
}

export interface OwnEnvironment {
  /** The environment's name, also its host file's. */
  name: string;
  /** Its container prefix: the edge is <prefix>haproxy, the runner <prefix>runner. */
  prefix: string;
  project: string;
  /** The edge's port (never 18480-18490, the deploy tier's). */
  port: number;
  tokenEnv: string;
  /** Where the copy moves the `local` environment (copyRepository): its loopback subnet and port. */
  subnet: string;
  localPort: number;
  nxTimeoutMs: number;
  /** The Incus network its containers join, instead of incus-test's (a test's own bridge: ownBridge). */
  network?: string;
  /** More rewrites of the environment file (say, its data section), each of which must match. */
  environment?: [RegExp, string][];
}

/**
 * A copy of this repository with an Incus environment of its own, made from
 * incus-test's files — nothing shared with the deploy tier — and its project
 * wiped before (leftovers of an earlier run) and after the test, pass or fail.
 */
export async function ownEnvironmentCopy(t: TestContext, o: OwnEnvironment, say: (m: string) => void): Promise<{ repo: RepoCopy; env: Environment }> {
  const repo = await copyRepository(t, { subnet: o.subnet, port: o.localPort, nxTimeoutMs: o.nxTimeoutMs });
  const edge = `${o.prefix}haproxy`;
  await rewriteFile(repo.dir, 'infra/environments/incus-test.yaml', `infra/environments/${o.name}.yaml`, [
    [/^name: incus-test$/m, `name: ${o.name}`],
    [/^prefix: veza-itest-$/m, `prefix: ${o.prefix}`],
    [/^publicUrl: http:\/\/localhost:18480$/m, `publicUrl: http://localhost:${o.port}`],
    [/^edge: veza-itest-haproxy$/m, `edge: ${edge}`],
    [/^ {2}project: veza-itest$/m, `  project: ${o.project}`],
    ...(o.network ? [[/^network: vezatestbr0$/m, `network: ${o.network}`] as [RegExp, string]] : []),
    ...(o.environment ?? []),
  ]);
  await rewriteFile(repo.dir, 'infra/edges/veza-itest-haproxy.yaml', `infra/edges/${edge}.yaml`, [
    [/^name: veza-itest-haproxy$/m, `name: ${edge}`],
    [/^ {2}port: 18480$/m, `  port: ${o.port}`],
  ]);
  await rewriteFile(repo.dir, 'infra/host/incus-test.yaml', `infra/host/${o.name}.yaml`, [
    [/^name: incus-test$/m, `name: ${o.name}`],
    [/^ {2}instance: veza-itest-runner$/m, `  instance: ${o.prefix}runner`],
    [/^ {2}tokenEnv: VEZA_ITEST_RUNNER_TOKEN$/m, `  tokenEnv: ${o.tokenEnv}`],
  ]);
  await repo.commit(`environment ${o.name} of its own`);
  const env = (await loadWorkspace(repo.dir)).env(o.name);
  assert.equal(env.incus!.project, o.project);
  const leftovers = await wipeProject(env);
  if (leftovers.length) say(`removed leftovers of an earlier run: ${leftovers.join(', ')}`);
  t.after(async () => say(`teardown: removed project ${o.project} with ${(await wipeProject(env)).join(', ') || 'nothing'}`));
  return { repo, env };
}

/** Copies `from` to `to` under `dir` with each pattern replaced; a pattern that does not match fails the test. */
async function rewriteFile(dir: string, from: string, to: string, pairs: [RegExp, string][]): Promise<void> {
  let s = await fs.readFile(join(dir, from), 'utf8');
  for (const [re, by] of pairs) {
    assert.match(s, re, `${from}: expected ${re}`);
    s = s.replace(re, by);
  }
  await fs.writeFile(join(dir, to), s);
}

/** A string matched as itself inside a RegExp. */
export function literal(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
