/**
 * Snapshot cost on a `dir` pool against a copy-on-write `btrfs` pool (issue
 * 11): the data tier takes a `pre-deploy-<sha>` snapshot of every data
 * container on each deploy, and on `dir` Incus copies the whole root
 * filesystem. One container per pool, launched from the tier's base image,
 * given `--data` MiB of incompressible data (a database's files), then
 * snapshotted and the snapshot deleted `--runs` times, the two pools
 * interleaved. Prints the launch time and the median snapshot create/delete
 * times per pool. Needs root and the pools tools/scripts/incus-setup.sh makes.
 *
 *   node -r @swc-node/register bench/incus-snapshot-bench.ts [--runs 5] [--data 256]
 */
import { loadavg } from 'node:os';
import * as cli from '@veza/engine/hosts/incus/cli';
import { IncusClient } from '@veza/engine/hosts/incus/client';
import { parseNames } from '@veza/engine/hosts/incus/json';
import { createProcessRunner, type Command } from '@veza/engine/ports/process';

const PROJECT = 'veza-bench';
const POOLS = { dir: 'veza-test-pool', btrfs: 'veza-test-btrfs' } as const;
const IMAGE = 'veza-test-base';
const NETWORK = 'vezatestbr0';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? fallback : Number(process.argv[i + 1]);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

async function main(): Promise<void> {
  const runs = arg('runs', 5);
  const dataMiB = arg('data', 256);
  const runner = createProcessRunner();
  const client = new IncusClient(runner, PROJECT);
  const timed = async (c: Command): Promise<number> => {
    const t0 = process.hrtime.bigint();
    await client.run(c);
    return Number(process.hrtime.bigint() - t0) / 1e6;
  };
  process.stderr.write(`started ${new Date().toISOString()}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
  if (!parseNames((await runner.run(cli.listProjects())).stdout, 'incus project list').includes(PROJECT)) await runner.run(cli.projectCreate(PROJECT));
  const names = Object.keys(POOLS).map((kind) => `veza-bench-${kind}`);
  try {
    const launchMs: Record<string, number> = {};
    for (const [kind, pool] of Object.entries(POOLS)) {
      const name = `veza-bench-${kind}`;
      if (await client.instance(name)) await client.run(cli.deleteInstance(client.scope, name));
      launchMs[kind] = await timed(cli.launch(client.scope, { image: IMAGE, name, profiles: [], network: NETWORK, pool }));
      await client.waitReady(name, { timeoutMs: 120_000 });
      await client.exec(name, ['sh', '-c', `head -c ${dataMiB}M /dev/urandom > /var/lib/bench-data && sync`], { timeoutMs: 10 * 60_000, description: `write ${dataMiB} MiB into ${name}` });
    }
    const create: Record<string, number[]> = { dir: [], btrfs: [] };
    const remove: Record<string, number[]> = { dir: [], btrfs: [] };
    for (let i = 0; i < runs; i++) {
      for (const kind of Object.keys(POOLS)) {
        const name = `veza-bench-${kind}`;
        create[kind]!.push(await timed(cli.snapshotCreate(client.scope, name, `bench-${i}`)));
        remove[kind]!.push(await timed(cli.snapshotDelete(client.scope, name, `bench-${i}`)));
      }
    }
    const usage = (await client.exec(names[0]!, ['du', '-sxm', '/'])).stdout.split('\t')[0];
    process.stdout.write(`root filesystem ${usage} MiB (with ${dataMiB} MiB of data), ${runs} runs, medians:\n`);
    for (const kind of Object.keys(POOLS)) {
      process.stdout.write(`${kind.padEnd(6)} launch ${seconds(launchMs[kind]!)}, snapshot create ${seconds(median(create[kind]!))} (${create[kind]!.map(seconds).join(', ')}), delete ${seconds(median(remove[kind]!))}\n`);
    }
  } finally {
    for (const name of names) await client.run(cli.deleteInstance(client.scope, name), { check: false });
    await runner.run({ argv: [cli.INCUS, 'project', 'delete', PROJECT], input: '', description: `delete project ${PROJECT}` }, { check: false });
    process.stderr.write(`ended ${new Date().toISOString()}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
