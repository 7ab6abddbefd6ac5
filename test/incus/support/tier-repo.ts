import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { Environment } from '@veza/engine/config/environment';
import { loadWorkspace } from '@veza/engine/config/workspace';
import { copyRepository, type NxRun, type RepoCopy } from '../../e2e/support/copy';
import { wipeProject } from './project';

export const TIER_ENV = 'incus-test';

/**
 * This repository copied into a git repository of its own, on which the
 * tier (and its benchmark) run the commands users type against the
 * `incus-test` environment, each run timed and its deploy phases echoed —
 * where a run's minutes went, in the CI log. The tier's Incus project is
 * wiped before (leftovers of an aborted run) and after.
 */
export interface TierRepo {
  repo: RepoCopy;
  env: Environment;
  /** The data tier's passwords, fresh for the run, in this process's environment (the commands inherit it) until the end. */
  secrets: Record<'VEZA_ITEST_POSTGRES_PASSWORD' | 'VEZA_ITEST_REDIS_PASSWORD' | 'VEZA_ITEST_RABBITMQ_PASSWORD', string>;
  /** Seconds per labelled run. */
  timings: Record<string, number>;
  nx(label: string, ...args: string[]): Promise<NxRun>;
  deploy(label: string, ...extra: string[]): Promise<NxRun>;
  /** Rewrites a file of the copy; the edit must change it. */
  edit(rel: string, fn: (s: string) => string): Promise<void>;
}

const PROGRESS = /^\[[A-Z]\] .*: (ok in|FAILED)|^(deploy|rollback|cleanup) \S+.*: (success|failure|noop) in/;

/** A command's deploy phases and outcome lines: where its minutes went, for the CI log. */
export function progressLines(out: string): string[] {
  return out.split('\n').filter((l) => PROGRESS.test(l)).map((l) => l.trim());
}

export async function tierRepo(t: { after(fn: () => unknown): void }, say: (line: string) => void): Promise<TierRepo> {
  // Quotes, a dollar, a backslash and a space: a password must survive every layer it crosses.
  const secrets = {
    VEZA_ITEST_POSTGRES_PASSWORD: `pg-${randomBytes(12).toString('base64url')}'$`,
    VEZA_ITEST_REDIS_PASSWORD: `redis-${randomBytes(12).toString('base64url')}"\\`,
    VEZA_ITEST_RABBITMQ_PASSWORD: `mq-${randomBytes(12).toString('base64url')} x`,
  };
  Object.assign(process.env, secrets);
  t.after(() => {
    for (const k of Object.keys(secrets)) delete process.env[k];
  });
  // The copy's `local` moves to a subnet of its own, unused here: only incus-test is deployed.
  // A first deploy installs the data tier and the edge with apt and may build every component: on a loaded machine, minutes.
  const repo = await copyRepository(t, { subnet: '127.79.8', port: 18408, nxTimeoutMs: 40 * 60_000 });
  const env = (await loadWorkspace(repo.dir)).env(TIER_ENV);
  const leftovers = await wipeProject(env);
  if (leftovers.length) say(`removed leftovers of an earlier run: ${leftovers.join(', ')}`);
  t.after(async () => {
    const removed = await wipeProject(env);
    say(`teardown: removed project ${env.incus!.project} with ${removed.join(', ') || 'nothing'}`);
  });
  const timings: Record<string, number> = {};
  const nx = async (label: string, ...args: string[]): Promise<NxRun> => {
    const t0 = Date.now();
    say(`── ${label}: nx ${args.join(' ')}`);
    const r = await repo.nx(...args);
    timings[label] = (Date.now() - t0) / 1000;
    for (const line of progressLines(r.out)) say(`   ${line}`);
    say(`── ${label}: exit ${r.code} in ${timings[label]!.toFixed(1)} s`);
    return r;
  };
  return {
    repo,
    env,
    secrets,
    timings,
    nx,
    deploy: (label, ...extra) => nx(label, 'run', 'infra-deploy:deploy', `--env=${TIER_ENV}`, ...extra),
    async edit(rel, fn) {
      const file = join(repo.dir, rel);
      const before = await fs.readFile(file, 'utf8');
      const after = fn(before);
      assert.notEqual(after, before, `${rel}: the edit changed nothing`);
      await fs.writeFile(file, after);
    },
  };
}

/** A change to veza-web only: a real commit whose release rebuilds one component and places all three. */
export const touchWeb = (s: string): string => `${s}<!-- a change to veza-web only: ${Date.now()} -->\n`;
