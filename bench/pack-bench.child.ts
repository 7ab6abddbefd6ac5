/**
 * The measured side of bench/pack-bench.ts: packs one tree and prints its
 * own figures as JSON, so the RSS read is this process's alone.
 *   <node> pack-bench.child.(ts|js) <src> <out>
 */
import { packDirectory } from '@veza/engine/artifact/pack';

async function main(): Promise<void> {
  const [src, out] = process.argv.slice(2);
  if (!src || !out) throw new Error('usage: pack-bench.child <src> <out>');
  const rssBeforeKiB = process.memoryUsage().rss / 1024;
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  const r = await packDirectory(src, out);
  const packMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const cpu = process.cpuUsage(c0);
  process.stdout.write(JSON.stringify({
    packMs,
    cpuMs: (cpu.user + cpu.system) / 1000,
    rssBeforeKiB,
    maxRssKiB: process.resourceUsage().maxRSS,
    size: r.size,
  }));
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
