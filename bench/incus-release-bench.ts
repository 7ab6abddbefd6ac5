/**
 * What a release costs on real Incus (issue 11): the tier's environment,
 * the repository's real components, the commands users type. Times, whole
 * process, a first deploy (data tier and edge installed with apt, runtime
 * images built unless they exist — `--cold-images` removes them first), a
 * no-op, and a second release (a veza-web commit: one component rebuilt,
 * three slots placed), each with the deploy's own phase times. The second
 * release is the figure the goal is about: ≤ 30 s once runtime images exist.
 * Needs root, incusd and tools/scripts/incus-setup.sh's pool, bridge and
 * image; uses the tier's project, so never run it beside npm run test:incus.
 *
 *   node -r @swc-node/register bench/incus-release-bench.ts [--cold-images]
 */
import { loadavg } from 'node:os';
import { createProcessRunner } from '@veza/engine/ports/process';
import * as cli from '@veza/engine/hosts/incus/cli';
import { parseNames } from '@veza/engine/hosts/incus/json';
import { tierRepo, touchWeb } from '../test/incus/support/tier-repo';

const RUNTIME_IMAGE = /^veza-runtime-[0-9a-f]{16}$/;

async function removeRuntimeImages(): Promise<string[]> {
  const runner = createProcessRunner();
  const incus = (args: string[]) => runner.run({ argv: [cli.INCUS, ...args], input: '', timeoutMs: 120_000, description: `incus ${args.slice(0, 2).join(' ')}` });
  const aliases = parseNames((await incus(['image', 'alias', 'list', '--format', 'json'])).stdout, 'incus image alias list').filter((a) => RUNTIME_IMAGE.test(a));
  for (const a of aliases) await incus(['image', 'delete', a]);
  return aliases;
}

async function main(): Promise<void> {
  const cleanups: (() => unknown)[] = [];
  const say = (line: string) => process.stderr.write(`${line}\n`);
  const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');
  process.stdout.write(`incus release benchmark, ${new Date().toISOString()}, load average ${load()}\n`);
  try {
    if (process.argv.includes('--cold-images')) say(`removed runtime images: ${(await removeRuntimeImages()).join(', ') || 'none'}`);
    const tier = await tierRepo({ after: (fn) => cleanups.unshift(fn) }, say);
    const runs: [string, () => Promise<unknown>][] = [
      ['first deploy', () => tier.deploy('first deploy')],
      ['no-op redeploy', () => tier.deploy('no-op redeploy')],
      ['second release (veza-web commit)', async () => {
        await tier.edit('apps/veza-web/index.html', touchWeb);
        await tier.repo.commit('veza-web only');
        return tier.deploy('second release (veza-web commit)');
      }],
    ];
    for (const [label, run] of runs) {
      const r = (await run()) as { code: number; out: string };
      if (r.code !== 0) throw new Error(`${label} failed:\n${r.out}`);
      const summary = r.out.split('\n').find((l) => /^deploy \S+.*: (success|noop) in/.test(l)) ?? '(no summary line)';
      process.stdout.write(`${label.padEnd(34)} ${tier.timings[label]!.toFixed(1).padStart(6)} s whole process; engine: ${summary}\n`);
    }
  } finally {
    for (const fn of cleanups) await fn();
    process.stdout.write(`ended ${new Date().toISOString()}, load average ${load()}\n`);
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
