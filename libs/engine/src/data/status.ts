import type { MinioStatus } from './minio-topology';
import type { CacheStatus } from './nginx-cache';
import type { SentinelStatus } from './redis-topology';

/**
 * What `infra-data:status` reports of the services beside PostgreSQL, each
 * asked of the service itself: Redis's master and replicas from the
 * sentinels, MinIO's drives and healing from its admin API, the media
 * cache's hit ratio from its access log and stub_status.
 */
export interface ServicesStatus {
  redis?: { topology: 'single'; address: string; answering: boolean } | ({ topology: 'sentinel' } & SentinelStatus);
  minio?: { topology: 'single' | 'distributed' } & MinioStatus;
  cache?: CacheStatus;
}

const pct = (r: number) => `${(r * 100).toFixed(1)} %`;

function mib(bytes: number): string {
  return `${(bytes / (1 << 20)).toFixed(1)} MiB`;
}

/** Whether the weakest erasure set can still be written and read, said with the numbers that decide it. */
function quorumVerdict(q: NonNullable<MinioStatus['quorum']>): string {
  const have = `${q.weakestSetOnline} of ${q.drivesPerSet} drives of a set online`;
  const ec = `EC:${q.parity}`;
  if (q.weakestSetOnline < q.read) return `READS AND WRITES REFUSED: ${have}, reads need ${q.read} (${ec}); start the stopped nodes`;
  if (q.weakestSetOnline < q.write) return `WRITES REFUSED: ${have}, writes need ${q.write} (${ec}); reads still work; start the stopped nodes`;
  return `writable (${have}, writes need ${q.write}, ${ec})`;
}

/** The lines `infra-data:status` prints for the services. */
export function formatServicesStatus(env: string, s: ServicesStatus): string[] {
  const lines: string[] = [];
  const r = s.redis;
  if (r?.topology === 'single') lines.push(`redis of ${env} (single): ${r.address} ${r.answering ? 'answers' : 'DOES NOT ANSWER'}`);
  if (r?.topology === 'sentinel') {
    const answering = r.sentinels.filter((x) => x.master).length;
    lines.push(`redis of ${env} (sentinel, ${r.masterName}): master ${r.master ?? 'unknown'}${r.agreed ? '' : ' (SENTINELS DISAGREE)'}, ${answering}/${r.sentinels.length} sentinels answer`);
    for (const x of r.sentinels) lines.push(`  sentinel ${x.address}: ${x.master ? `master ${x.master}` : `no answer (${x.error ?? 'unknown'})`}`);
    for (const x of r.replicas) lines.push(`  replica ${x.address}: ${x.flags}, link ${x.linkStatus}, offset ${x.offset}`);
  }
  const m = s.minio;
  if (m) {
    lines.push(`minio of ${env} (${m.topology}): ${m.mode}${m.error ? ` (${m.error})` : ''}, drives ${m.drivesOnline} online, ${m.drivesOffline} offline, ${m.healing} healing${m.quorum ? `; ${quorumVerdict(m.quorum)}` : ''}`);
    for (const srv of m.servers) {
      lines.push(`  node ${srv.endpoint}: ${srv.state}`);
      for (const d of srv.drives) lines.push(`    drive ${d.endpoint}: ${d.state}${d.healing ? ', healing' : ''}`);
    }
  }
  const c = s.cache;
  if (c) {
    const { counts } = c;
    const ratio = counts.hitRatio === undefined ? 'no lookups yet' : `hit ratio ${pct(counts.hitRatio)} (${counts.fromCache} of ${counts.lookups} lookups)`;
    const by = Object.entries(counts.byStatus).sort().map(([k, v]) => `${k} ${v}`).join(', ');
    lines.push(`media cache of ${env}: ${c.url} ${c.running ? 'runs' : 'NOT RUNNING'}, ${ratio}, ${mib(c.diskBytes)} on disk${by ? `; ${by}` : ''}`);
    if (c.connections) lines.push(`  stub_status: ${c.connections.active} active connections, ${c.connections.requests} requests`);
  }
  return lines;
}
