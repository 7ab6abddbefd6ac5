import { z } from 'zod';
import { INCUS_DEFAULTS, incusNetworkSchema } from './incus-placement';
import { envNameSchema, hostListSchema, PATTERNS } from './names';
import { parseNamedYaml } from './yaml-errors';

/**
 * An environment: `infra/environments/<name>.yaml`. Everything a deploy needs
 * to know about where and how; defaults are documented in README.md.
 */
const envVarName = z.string().regex(/^[A-Z][A-Z0-9_]*$/, 'must be an environment variable name like FORGEJO_REGISTRY_TOKEN');
const octet = '(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
/** `127.a.b`, each octet 0-255: the slots, edge and data tier bind `<subnet>.<n>`, so a bad octet must fail here, not at a restart. */
const loopbackSubnet = z.string().regex(new RegExp(`^127\\.${octet}\\.${octet}$`), 'must be 127.<0-255>.<0-255>, e.g. 127.77.1');
const tcpPort = z.number().int().min(1, 'must be a TCP port (1-65535)').max(65535, 'must be a TCP port (1-65535)');
/** What createRegistry accepts, checked here so a bad URL is reported with its line. */
const registryUrl = z.string().regex(/^(file:.+|https?:\/\/[^\s/]+(\/\S*)?)$/, 'must be file:<dir> (e.g. file:.veza/registry) or an http(s) URL such as https://git.example/api/packages');

/**
 * The OTLP/HTTP base the apps' OTEL_EXPORTER_OTLP_ENDPOINT names (veza-api
 * adds /v1/traces): what the Go exporter accepts, refused here with its line
 * rather than by every slot at start.
 */
const otlpEndpoint = z.string().refine((s) => {
  try {
    const u = new URL(s);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '' && !u.search && !u.hash && !u.username && !u.password;
  } catch {
    return false;
  }
}, 'must be the collector\'s OTLP/HTTP base URL, e.g. http://10.99.0.1:4318 (http or https, no query, fragment or credentials)');

const SENTINEL_DEFAULTS = { nodes: 3, quorum: 2, masterName: 'veza-master', port: 26379, downAfterMs: 5_000, failoverTimeoutMs: 30_000 };
const absolutePath = z.string().regex(/^\/[^\0]*$/, 'must be an absolute path, e.g. /var/lib/pgbackrest');
/** A systemd OnCalendar expression (the Incus side renders timers from it); checked for shape only, systemd-analyze has the last word. */
const calendar = z.string().regex(/^[A-Za-z0-9 ,.:*\/~-]+$/, 'must be a systemd calendar expression, e.g. "Sun *-*-* 02:00:00"');

/**
 * The HA topology's settings (seed 001: pg_auto_failover, PgBouncer,
 * pgBackRest). Cross-field rules (pools under max_connections, sync
 * standbys under the node count) are in environmentSchema's superRefine,
 * pathed so the error names the offending line.
 */
const haSchema = z.strictObject({
  /** Data nodes; the monitor comes on top. The first registered is the first primary. */
  nodes: z.number().int().min(2, 'an HA formation needs at least 2 data nodes (a primary and a standby)').max(9).default(2),
  /** pg_auto_failover's number-sync-standbys. */
  syncStandbys: z.number().int().min(0).default(0),
  pgbouncer: z.strictObject({
    port: tcpPort.default(6432),
    poolMode: z.enum(['transaction', 'session']).default('transaction'),
    /** Server connections per database/user pair (seed: 50). */
    poolSize: z.number().int().min(1).default(50),
    reservePoolSize: z.number().int().min(0).default(10),
    /** Client connections PgBouncer accepts (seed: 1000). */
    maxClientConn: z.number().int().min(1).max(100_000).default(1000),
  }).default({ port: 6432, poolMode: 'transaction', poolSize: 50, reservePoolSize: 10, maxClientConn: 1000 }),
  /**
   * When the monitor gives up on a primary (README, "PostgreSQL HA",
   * failover timing). pg_auto_failover's defaults (20 s + 30 s, partition 20 s)
   * take about 55 s to a write again, at the seed's 60 s bound; these take
   * about half. A cut-off primary stops itself after networkPartitionSeconds,
   * so that must end well before the monitor may promote (checked below).
   */
  failover: z.strictObject({
    /** pgautofailover.node_considered_unhealthy_timeout: no report from the node, and its health check failing, for this long. */
    unhealthySeconds: z.number().int().min(2).max(600).default(10),
    /** pgautofailover.primary_demote_timeout: then the monitor waits this long for the primary to demote itself before it promotes. */
    demoteSeconds: z.number().int().min(2).max(600).default(15),
    /** Each keeper's timeout.network_partition_timeout: a primary that reaches neither the monitor nor a standby for this long shuts its Postgres down. */
    networkPartitionSeconds: z.number().int().min(2).max(600).default(10),
  }).default({ unhealthySeconds: 10, demoteSeconds: 15, networkPartitionSeconds: 10 }),
  backup: z.strictObject({
    /** Seed: weekly full on Sunday, daily diff the other days, drill two hours after the full. */
    fullSchedule: calendar.default('Sun *-*-* 02:00:00'),
    diffSchedule: calendar.default('Mon..Sat *-*-* 02:00:00'),
    drillSchedule: calendar.default('Sun *-*-* 04:00:00'),
    /** Full backups kept (pgBackRest repo1-retention-full); their diffs and WAL go with them. */
    retentionFull: z.number().int().min(1, 'retention must keep at least 1 full backup').max(100).default(4),
    retentionDiff: z.number().int().min(1, 'retention must keep at least 1 diff backup').max(100).default(7),
    /**
     * `posix`: a folder (on Incus, the host's, mounted into the nodes). `s3`:
     * a bucket of the environment's own MinIO (seed 001: "backups land in
     * MinIO"), reached over TLS (README, "PostgreSQL HA", S3 repository).
     */
    repository: z.strictObject({
      type: z.enum(['posix', 's3']).default('posix'),
      /** posix: the repository's folder; local environments default to .veza/envs/<env>/ha/backup/repo, Incus to /var/lib/veza/pgbackrest/<env>. s3: the prefix in the bucket, default /pgbackrest. */
      path: absolutePath.optional(),
      /** s3 only: the bucket, default veza-<env>-pgbackrest. */
      bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be an S3 bucket name: 3-63 lower-case letters, digits, dots and dashes').optional(),
      /** s3 only: the port of MinIO's TLS front (pgBackRest speaks only HTTPS to S3). */
      tlsPort: tcpPort.optional(),
    }).default({ type: 'posix' }),
    /** What the restore drill checks: this table must hold at least minRows rows in the restored copy. */
    drill: z.strictObject({
      table: z.string().regex(/^[a-z_][a-z0-9_]*$/).default('schema_migrations'),
      minRows: z.number().int().min(0).default(1),
    }).default({ table: 'schema_migrations', minRows: 1 }),
  }).default({
    fullSchedule: 'Sun *-*-* 02:00:00', diffSchedule: 'Mon..Sat *-*-* 02:00:00', drillSchedule: 'Sun *-*-* 04:00:00',
    retentionFull: 4, retentionDiff: 7, repository: { type: 'posix' }, drill: { table: 'schema_migrations', minRows: 1 },
  }),
});

export type HaSettings = z.infer<typeof haSchema>;

export const environmentSchema = z.strictObject({
  name: envNameSchema,
  driver: z.enum(['local', 'incus']),
  /** Container/slot name prefix: `veza-staging-` gives `veza-staging-api-blue`. */
  prefix: z.string().regex(/^[a-z][a-z0-9-]*-$/, 'must be lower-case and end with "-"'),
  network: incusNetworkSchema.default(INCUS_DEFAULTS.network),
  publicHosts: hostListSchema.min(1),
  /**
   * Host names the edge routes to the inactive colour only (its primaries,
   * never a backup twin): where a release deployed with --no-switch is seen
   * before `promote`. Never the live colour: with nothing up there, 503.
   */
  previewHosts: hostListSchema.default([]),
  /**
   * After `deploy --no-switch`, the deploy command waits this long, then
   * promotes the preview if it still holds that release, healthy (the
   * promote's own checks, under its own lock). 0: a preview waits for
   * `promote`. Bounded: the command waits in the foreground.
   */
  autoPromoteSeconds: z.number().int('must be a whole number of seconds').min(0, 'must be from 0 (off) to 3600 seconds').max(3_600, 'must be from 0 (off) to 3600 seconds').default(0),
  publicUrl: z.string().url(),
  /** Environments naming the same edge share one HAProxy and one config (`infra/edges/<edge>.yaml`). */
  edge: z.string().regex(PATTERNS.component),
  registry: z.strictObject({
    /** `file:` path (relative to the workspace) or an https base such as https://git.example/api/packages */
    url: registryUrl,
    owner: z.string().regex(PATTERNS.owner),
    /** Name of the environment variable holding the token; the token itself never lives in a file. */
    tokenEnv: envVarName.optional(),
  }),
  local: z.strictObject({
    /** First three octets of the loopback range this env's slots bind to, e.g. 127.77.1 */
    subnet: loopbackSubnet,
  }).optional(),
  incus: z.strictObject({
    project: z.string().default(INCUS_DEFAULTS.project),
    image: z.string().default(INCUS_DEFAULTS.image),
    dnsSuffix: z.string().default(INCUS_DEFAULTS.dnsSuffix),
    storagePool: z.string().optional(),
  }).optional(),
  data: z.strictObject({
    postgres: z.strictObject({
      database: z.string().regex(/^[a-z_][a-z0-9_]*$/).default('veza'),
      user: z.string().regex(/^[a-z_][a-z0-9_]*$/).default('veza'),
      passwordEnv: envVarName.optional(),
      port: tcpPort.default(5432),
      /** `single`: one server (the default). `ha`: a pg_auto_failover formation behind PgBouncer, backed up by pgBackRest (README, "PostgreSQL HA"). */
      topology: z.enum(['single', 'ha']).default('single'),
      /** The server's max_connections; PgBouncer's pools must fit under it. */
      maxConnections: z.number().int().min(10).max(10_000).default(100),
      ha: haSchema.optional(),
    }).default({ database: 'veza', user: 'veza', port: 5432, topology: 'single', maxConnections: 100 }),
    redis: z.strictObject({
      passwordEnv: envVarName.optional(),
      maxmemory: z.string().default('256mb'),
      /** `sentinel`: seed 001's three redis-server + redis-sentinel nodes, the first the initial master. */
      topology: z.enum(['single', 'sentinel']).default('single'),
      port: tcpPort.default(6379),
      sentinel: z.strictObject({
        nodes: z.number().int().default(3),
        quorum: z.number().int().min(1, 'must be at least 1').default(2),
        masterName: z.string().regex(/^[a-z][a-z0-9-]{0,39}$/, 'must be lower-case letters, digits and "-"').default('veza-master'),
        port: tcpPort.default(26379),
        downAfterMs: z.number().int().min(100).default(5_000),
        failoverTimeoutMs: z.number().int().min(1_000).default(30_000),
      }).default(SENTINEL_DEFAULTS),
    }).optional(),
    rabbitmq: z.strictObject({
      vhost: z.string().default('/veza'),
      user: z.string().default('veza'),
      passwordEnv: envVarName.optional(),
      /** local driver: AMQP, Erlang distribution and epmd ports of the environment's node, on its data address. */
      port: tcpPort.default(5672),
      distPort: tcpPort.default(25672),
      epmdPort: tcpPort.default(4369),
    }).optional(),
    minio: z.strictObject({
      binary: z.string().optional(),
      bucket: z.string().optional(),
      passwordEnv: envVarName.optional(),
      /** `distributed`: `nodes` servers × `drivesPerNode` drives, one erasure set under MINIO_STORAGE_CLASS_STANDARD=EC:<parity>. */
      topology: z.enum(['single', 'distributed']).default('single'),
      port: tcpPort.default(9000),
      nodes: z.number().int().min(1).default(4),
      drivesPerNode: z.number().int().min(1).default(1),
      parity: z.number().int().min(1).default(2),
      /**
       * Seed 001's nginx media cache in front of MinIO (README, "Media cache"):
       * on `local` an nginx on `<subnet>.50:port`, stub_status on `statusPort`.
       */
      cache: z.strictObject({
        port: tcpPort.default(8080),
        statusPort: tcpPort.default(8081),
        maxSize: z.string().regex(/^\d+[kmg]$/, 'must be a size such as 20g or 512m').default('20g'),
        /** Slots' S3_ENDPOINT names the cache instead of MinIO (the seed's "flip AWS_S3_ENDPOINT to the cache"). */
        appsThrough: z.boolean().default(true),
      }).optional(),
    }).optional(),
  }).default({ postgres: { database: 'veza', user: 'veza', port: 5432, topology: 'single', maxConnections: 100 } }),
  retention: z.strictObject({
    history: z.number().int().min(1).max(100).default(5),
    snapshots: z.number().int().min(0).max(100).default(3),
  }).default({ history: 5, snapshots: 3 }),
  health: z.strictObject({
    timeoutMs: z.number().int().positive().default(60_000),
    intervalMs: z.number().int().positive().default(250),
  }).default({ timeoutMs: 60_000, intervalMs: 250 }),
  verify: z.strictObject({
    retries: z.number().int().min(1).default(10),
    intervalMs: z.number().int().positive().default(3_000),
  }).default({ retries: 10, intervalMs: 3_000 }),
  /**
   * The post-switch gate: for `seconds` after F, the edge's own counters for
   * the new colour (5xx answers, failed responses and connections) decide
   * whether it stays; past `maxErrorRatio` over at least `minRequests`
   * answers, the deploy switches back as on a failed verification. 0: off.
   */
  bake: z.strictObject({
    seconds: z.number().int().min(0).max(3_600).default(0),
    maxErrorRatio: z.number().min(0, 'must be a ratio from 0 to 1').max(1, 'must be a ratio from 0 to 1').default(0.05),
    minRequests: z.number().int().min(1).default(20),
    intervalMs: z.number().int().min(100).default(1_000),
  }).default({ seconds: 0, maxErrorRatio: 0.05, minRequests: 20, intervalMs: 1_000 }),
  /** Tracing (README, "Tracing"): with otlpEndpoint, every slot gets OTEL_EXPORTER_OTLP_ENDPOINT and sends its spans there. */
  observability: z.strictObject({ otlpEndpoint: otlpEndpoint.optional() }).optional(),
  /** infra/hooks/<event>: how long one may run before it counts as failed. */
  hooks: z.strictObject({ timeoutSeconds: z.number().int().min(1).max(3_600).default(120) }).default({ timeoutSeconds: 120 }),
}).superRefine((env, ctx) => {
  if (env.driver === 'local' && !env.local) ctx.addIssue({ code: 'custom', path: ['local'], message: 'the local driver needs local.subnet' });
  checkDataTopologies(env, ctx);
  checkHa(env.data.postgres, env.data.minio !== undefined, ctx);
});

/**
 * Topologies that cannot work are refused at load, before any command:
 * Sentinel needs a majority of three to elect, and a quorum no larger than
 * the sentinels; one erasure set needs 4·k drives with parity at most half.
 * staging and prod must name where every service's password comes from.
 */
function checkDataTopologies(env: { name: string; data: { redis?: { topology: string; sentinel: typeof SENTINEL_DEFAULTS; passwordEnv?: string }; rabbitmq?: { passwordEnv?: string }; minio?: { topology: string; nodes: number; drivesPerNode: number; parity: number; passwordEnv?: string } } }, ctx: z.RefinementCtx): void {
  const { redis, minio } = env.data;
  if (redis?.topology === 'sentinel') {
    const s = redis.sentinel;
    if (s.nodes < 3) ctx.addIssue({ code: 'custom', path: ['data', 'redis', 'sentinel', 'nodes'], message: `a Sentinel topology needs at least 3 nodes (got ${s.nodes}): with fewer, losing one leaves no majority to fail over` });
    if (s.quorum > s.nodes) ctx.addIssue({ code: 'custom', path: ['data', 'redis', 'sentinel', 'quorum'], message: `quorum ${s.quorum} is larger than the ${s.nodes} sentinels, so no failover could ever be agreed` });
  }
  if (minio?.topology === 'distributed') {
    const drives = minio.nodes * minio.drivesPerNode;
    if (drives < 4 || drives % 4 !== 0) ctx.addIssue({ code: 'custom', path: ['data', 'minio', 'nodes'], message: `a distributed MinIO needs 4·k drives (nodes × drivesPerNode); got ${minio.nodes} × ${minio.drivesPerNode} = ${drives}` });
    else if (minio.parity * 2 > drives) ctx.addIssue({ code: 'custom', path: ['data', 'minio', 'parity'], message: `parity EC:${minio.parity} exceeds half of the ${drives} drives` });
  }
  if (!SHARED_ENVS.has(env.name)) return;
  for (const service of ['redis', 'rabbitmq', 'minio'] as const) {
    const s = env.data[service];
    if (s && !s.passwordEnv) ctx.addIssue({ code: 'custom', path: ['data', service, 'passwordEnv'], message: `${env.name} is a shared environment: name the variable that holds the ${service} password (only local environments generate one)` });
  }
}

/** Environments whose secrets must come from the vault, never be generated or left as a placeholder. */
export const SHARED_ENVS: ReadonlySet<string> = new Set(['staging', 'prod']);

/** Time a cut-off primary's keeper needs after its partition timeout: its next loop (1 s) and a fast shutdown of Postgres. */
const PARTITION_MARGIN_SECONDS = 5;

function checkHa(pg: { topology: 'single' | 'ha'; maxConnections: number; ha?: HaSettings }, hasMinio: boolean, ctx: z.RefinementCtx): void {
  const at = (...path: string[]) => ['data', 'postgres', ...path];
  if (pg.topology === 'single') {
    if (pg.ha) ctx.addIssue({ code: 'custom', path: at('ha'), message: 'ha settings need topology: ha (or remove them)' });
    return;
  }
  const ha = pg.ha ?? haSchema.parse({});
  // pg_auto_failover refuses a quorum it could never meet: one standby must stay free to fail.
  if (ha.syncStandbys > ha.nodes - 2) {
    ctx.addIssue({ code: 'custom', path: at('ha', 'syncStandbys'), message: `${ha.nodes} nodes allow at most ${ha.nodes - 2} sync standbys (pg_auto_failover needs one standby beyond the quorum)` });
  }
  const f = ha.failover;
  const margin = PARTITION_MARGIN_SECONDS;
  if (f.networkPartitionSeconds + margin > f.unhealthySeconds + f.demoteSeconds) {
    ctx.addIssue({ code: 'custom', path: at('ha', 'failover', 'networkPartitionSeconds'), message: `networkPartitionSeconds (${f.networkPartitionSeconds}) + ${margin} s must not exceed unhealthySeconds + demoteSeconds (${f.unhealthySeconds + f.demoteSeconds}): a primary cut off from the monitor must have stopped before its standby may be promoted, or both take writes; lower it or raise demoteSeconds` });
  }
  const repo = ha.backup.repository;
  if (repo.type === 'posix') {
    for (const key of ['bucket', 'tlsPort'] as const) {
      if (repo[key] !== undefined) ctx.addIssue({ code: 'custom', path: at('ha', 'backup', 'repository', key), message: `${key} belongs to an s3 repository: set type: s3, or remove it` });
    }
  } else if (!hasMinio) {
    ctx.addIssue({ code: 'custom', path: at('ha', 'backup', 'repository', 'type'), message: "an s3 repository is a bucket of the environment's own MinIO, and this environment declares none: add data.minio, or use type: posix" });
  }
  const pool = ha.pgbouncer.poolSize + ha.pgbouncer.reservePoolSize;
  if (pool >= pg.maxConnections) {
    ctx.addIssue({ code: 'custom', path: at('ha', 'pgbouncer', 'poolSize'), message: `poolSize + reservePoolSize (${pool}) must stay below data.postgres.maxConnections (${pg.maxConnections}), which also serves replication and administration` });
  }
}

export type Environment = z.infer<typeof environmentSchema>;

/** The HA settings, defaults filled, when the environment uses the ha topology. */
export function haSettings(env: Environment): HaSettings | undefined {
  return env.data.postgres.topology === 'ha' ? (env.data.postgres.ha ?? haSchema.parse({})) : undefined;
}

export const ENVIRONMENTS_DIR = 'infra/environments';

/** One environment file; `file` is its path relative to the workspace, for messages. */
export function parseEnvironment(file: string, text: string): Environment {
  return parseNamedYaml(file, text, environmentSchema, 'fix the environment file (see README, "Environments")');
}
