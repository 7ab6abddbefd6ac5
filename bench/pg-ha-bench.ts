/**
 * The HA topology's figures on `local` (issue 13): one formation (monitor +
 * 2 nodes by pg_autoctl, PgBouncer, pgBackRest) in a temporary workspace on
 * 127.79.35.x, then
 *   - pooling: `pgbench -i -s 10`, then `pgbench -c 500 -j 8 -T <seconds>`
 *     through PgBouncer: tps, failed transactions, most server connections;
 *   - failover: `--runs` times, the primary killed outright (SIGKILL by pid)
 *     under pgbench writes, the seconds until a write through PgBouncer
 *     succeeds (median), then the old primary restarted to rejoin;
 *   - drill: a full backup and the restore drill's wall-clock time.
 * Stops every process by pid and removes the workspace at the end.
 *
 *   node -r @swc-node/register bench/pg-ha-bench.ts [--runs 3] [--seconds 30] [--s3]
 *
 * `--runs 0` skips the failovers, `--seconds 0` the pooling run. `--s3`
 * keeps the repository in a bucket of a MinIO beside the formation, through
 * its TLS front (README, "The S3 repository"), instead of a folder. pgbench's -T counts its clients' logins
 * (SCRAM, through PgBouncer): on a loaded machine 500 of them can take most
 * of a 30-second run.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { environmentSchema } from '@veza/engine/config/environment';
import { createLogger } from '@veza/engine/log/logger';
import { createDataTier } from '@veza/engine/data/tier';
import { haLayout, readFormationState } from '@veza/engine/data/local/ha';
import type { LocalHaTier } from '@veza/engine/data/local/ha-tier';
import { failedTransactions, killPrimaryAndMeasure, pgbench, pooledRun, processed, query, tps } from '@veza/engine/data/local/testing/ha-drills';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? fallback : Number(process.argv[i + 1]);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const runs = arg('runs', 3);
  const seconds = arg('seconds', 30);
  const s3 = process.argv.includes('--s3');
  const ws = mkdtempSync(join(tmpdir(), 'veza-ha-bench-'));
  chmodSync(ws, 0o755);
  const minio = s3 ? { minio: { port: 25465, binary: join(execFileSync('bash', [join(__dirname, '../tools/scripts/minio-tools.sh')], { encoding: 'utf8' }).trim(), 'minio') } } : {};
  const env = environmentSchema.parse({
    name: 'ha-bench', driver: 'local', prefix: 'veza-ha-bench-', publicHosts: ['localhost'], publicUrl: 'http://localhost:1', edge: 'local-edge',
    registry: { url: 'file:.veza/registry', owner: 'veza' }, local: { subnet: '127.79.35' },
    data: { postgres: { port: 25450, topology: 'ha', ha: { backup: { drill: { table: 'pgbench_accounts', minRows: 1 }, ...(s3 ? { repository: { type: 's3', tlsPort: 25469 } } : {}) }, pgbouncer: { port: 25460 } } }, ...minio },
  });
  const log = createLogger();
  const tier = () => createDataTier(env, { workspaceRoot: ws, log }) as LocalHaTier;
  const l = haLayout(env, ws);
  try {
    let t0 = Date.now();
    await tier().provision();
    console.log(`formation provisioned in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const url = await tier().databaseUrl();
    const init = await pgbench(url, ['-i', '-s', '10', '-q']);
    if (init.code !== 0) throw new Error(init.out);
    const run = seconds > 0 ? await pooledRun(tier(), url, ['-c', '500', '-j', '8', '-T', String(seconds)]) : undefined;
    if (run) console.log(`pooling: pgbench -c 500 -j 8 -T ${seconds}: exit ${run.code}, ${processed(run.out)} transactions, tps ${tps(run.out)} (${/initial connection time = [\d.]+ ms/.exec(run.out)?.[0]}), failed transactions ${failedTransactions(run.out)}, most server connections ${run.maxServer} (pool ${l.ha.pgbouncer.poolSize} + reserve ${l.ha.pgbouncer.reservePoolSize})`);

    t0 = Date.now();
    await tier().backup('full');
    console.log(`full backup (scale 10) into ${s3 ? 'the S3 repository' : 'the posix repository'} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const drill = await tier().drill();
    console.log(`drill: ${drill.restoredRows} rows restored in ${drill.durationSeconds.toFixed(1)} s`);

    await query(url, 'CREATE TABLE kills (id serial PRIMARY KEY, at timestamptz DEFAULT now())');
    const rtos: number[] = [];
    for (let i = 0; i < runs; i++) {
      const m = await killPrimaryAndMeasure(l, url, 'kills');
      const after = (await readFormationState(l))?.formation.primary?.name;
      t0 = Date.now();
      await tier().provision();
      rtos.push(m.rtoSeconds);
      console.log(`failover ${i + 1}: ${m.before} killed, ${after} primary, write through PgBouncer after ${m.rtoSeconds.toFixed(1)} s; rejoin ${((Date.now() - t0) / 1000).toFixed(1)} s; pgbench: ${m.bench}`);
    }
    if (runs > 0) console.log(`failover RTO median of ${runs}: ${median(rtos).toFixed(1)} s (min ${Math.min(...rtos).toFixed(1)}, max ${Math.max(...rtos).toFixed(1)})`);
  } finally {
    await tier().stop();
    rmSync(ws, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
