/**
 * The media cache's figures on `local` (issue 14): one environment with
 * MinIO (single) and `data.minio.cache` in a temporary workspace on
 * 127.79.122.x, `--segments` objects of `--size` bytes uploaded through the
 * cache, then for each segment a presigned GET (what an app hands a
 * player):
 *   - direct: the same GETs straight to MinIO (no cache), the baseline;
 *   - round 1 through the cache: every one a MISS (nginx fetches its slices);
 *   - `--rounds - 1` more rounds: HITs;
 *   - MinIO stopped: one more round, counted as served (200, same bytes) or not.
 * Prints p50/p95 per kind (as this client saw it, and nginx's own
 * $request_time from the cache's access log) and the hit ratio
 * infra-data:status reports.
 * Every request opens a fresh connection, one at a time. Stops every
 * process and removes the workspace at the end.
 *
 *   node -r @swc-node/register bench/media-cache-bench.ts [--segments 40] [--size 1572864] [--rounds 3]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir, loadavg } from 'node:os';
import { join } from 'node:path';
import { environmentSchema } from '@veza/engine/config/environment';
import { createLogger } from '@veza/engine/log/logger';
import { createDataTier } from '@veza/engine/data/tier';
import { localMinio } from '@veza/engine/data/local/minio';
import { localPgPaths } from '@veza/engine/data/local/postgres';
import { livePid } from '@veza/engine/data/local/pids';
import { cacheGet } from '@veza/engine/data/testing/cache-get';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? fallback : Number(process.argv[i + 1]);
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((s.length * p) / 100))]!;
}

const fmt = (xs: number[]) => `p50 ${pct(xs, 50).toFixed(1)} ms, p95 ${pct(xs, 95).toFixed(1)} ms (n=${xs.length})`;

async function main(): Promise<void> {
  const segments = arg('segments', 40);
  const size = arg('size', 1_572_864);
  const rounds = arg('rounds', 3);
  const root = join(__dirname, '..');
  const tools = execFileSync('bash', [join(root, 'tools/scripts/minio-tools.sh')], { encoding: 'utf8' }).trim();
  const ws = mkdtempSync(join(tmpdir(), 'veza-cache-bench-'));
  chmodSync(ws, 0o755);
  const env = environmentSchema.parse({
    name: 'cachebench', driver: 'local', prefix: 'veza-cachebench-', publicHosts: ['localhost'], publicUrl: 'http://localhost:1', edge: 'e',
    registry: { url: 'file:r', owner: 'veza' }, local: { subnet: '127.79.122' },
    data: { postgres: { port: 18761 }, minio: { binary: join(tools, 'minio'), port: 18762, cache: { port: 18763, statusPort: 18764, maxSize: '1g' } } },
  });
  const log = createLogger({ format: 'plain' });
  const tier = () => createDataTier(env, { workspaceRoot: ws, log });
  try {
    const t0 = Date.now();
    await tier().provision();
    console.log(`provision (postgres, minio, cache): ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const vars = await tier().serviceEnv!();
    const key = encodeURIComponent(vars.S3_SECRET_KEY!);
    const mcEnv = { ...process.env, MC_HOST_app: `http://veza:${key}@127.79.122.50:18763`, MC_HOST_direct: `http://veza:${key}@127.79.122.31:18762`, MC_CONFIG_DIR: join(ws, 'mc') };
    const mc = (args: string[]) => {
      const r = spawnSync(join(tools, 'mc'), ['--no-color', ...args], { env: mcEnv, encoding: 'utf8', maxBuffer: 64 << 20 });
      if (r.status !== 0) throw new Error(`mc ${args.join(' ')}: ${r.stderr}`);
      return r.stdout;
    };
    const dir = join(ws, 'segments');
    mkdirSync(dir);
    const bodies = new Map<string, Buffer>();
    for (let i = 0; i < segments; i++) {
      const b = randomBytes(size);
      bodies.set(`${i}.ts`, b);
      writeFileSync(join(dir, `${i}.ts`), b);
    }
    const t1 = Date.now();
    mc(['cp', '--recursive', `${dir}/`, 'app/veza-cachebench/tracks/1/']);
    console.log(`upload of ${segments} × ${size} bytes through the cache: ${((Date.now() - t1) / 1000).toFixed(1)} s`);
    const share = (alias: string) => mc(['share', 'download', '--recursive', '--json', '--expire', '1h', `${alias}/veza-cachebench/tracks/1/`]).trim().split('\n')
      .map((l) => JSON.parse(l) as { share: string; object: { key: string } });
    const direct = share('direct');
    const cached = share('app');

    const run = async (urls: { share: string }[]) => {
      const out: { ms: number; cache: string; ok: boolean }[] = [];
      for (const u of urls) {
        const r = await cacheGet(u.share).catch(() => undefined);
        const name = new URL(u.share).pathname.split('/').pop()!;
        out.push({ ms: r?.ms ?? NaN, cache: r?.cache ?? 'ERROR', ok: r?.status === 200 && r.body.equals(bodies.get(name)!) });
      }
      return out;
    };
    const base = await run(direct);
    console.log(`direct to MinIO: ${fmt(base.map((r) => r.ms))}, ${base.filter((r) => r.ok).length}/${segments} ok`);
    const miss = await run(cached);
    console.log(`through the cache, round 1: ${fmt(miss.map((r) => r.ms))}; ${summary(miss)}`);
    const hits: number[] = [];
    for (let i = 1; i < rounds; i++) {
      const h = await run(cached);
      hits.push(...h.map((r) => r.ms));
      console.log(`through the cache, round ${i + 1}: ${fmt(h.map((r) => r.ms))}; ${summary(h)}`);
    }
    if (hits.length) console.log(`HIT rounds together: ${fmt(hits)}`);
    const status = await tier().servicesStatus!();
    const c = status.cache!;
    console.log(`infra-data:status: hit ratio ${((c.counts.hitRatio ?? 0) * 100).toFixed(1)} % (${c.counts.fromCache} of ${c.counts.lookups} lookups), ${(c.diskBytes / (1 << 20)).toFixed(1)} MiB on disk`);

    // nginx's own $request_time per answer: the time spent in the cache, free of this client's scheduling on a busy machine.
    const served = new Map<string, number[]>();
    for (const line of readFileSync(join(localPgPaths(ws, env.name).root, 'minio-cache/access.log'), 'utf8').split('\n')) {
      const [, cache, , seconds] = line.split(' ');
      if (cache && seconds) served.set(cache, [...(served.get(cache) ?? []), Number(seconds) * 1000]);
    }
    for (const [cache, ms] of served) console.log(`nginx $request_time of ${cache} answers: ${fmt(ms)}`);

    const m = localMinio(env, localPgPaths(ws, env.name).root)!;
    process.kill(livePid(m.nodes[0]!.pidFile, 'minio')!, 'SIGTERM');
    for (let i = 0; i < 100 && livePid(m.nodes[0]!.pidFile, 'minio'); i++) await new Promise((r) => setTimeout(r, 100));
    const stale = await run(cached);
    console.log(`MinIO stopped: ${stale.filter((r) => r.ok).length}/${segments} served with the right bytes, ${fmt(stale.map((r) => r.ms))}; ${summary(stale)}`);
    console.log(`load average (1, 5, 15 min): ${loadavg().map((l) => l.toFixed(2)).join(', ')}`);
  } finally {
    await tier().stop().catch((e: unknown) => console.error(`stop: ${String(e)}`));
    rmSync(ws, { recursive: true, force: true });
  }
}

function summary(rs: { cache: string }[]): string {
  const by = new Map<string, number>();
  for (const r of rs) by.set(r.cache, (by.get(r.cache) ?? 0) + 1);
  return [...by].map(([k, v]) => `${k} ${v}`).join(', ');
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
