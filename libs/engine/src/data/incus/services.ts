import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { haSettings, type Environment } from '../../config/environment';
import { VezaError } from '../../log/errors';
import type { Command } from '../../ports/process';
import * as cli from '../../hosts/incus/cli';
import type { IncusClient } from '../../hosts/incus/client';
import { DATA_PROFILE, type IncusSettings } from '../../hosts/incus/host';
import type { PlanStep } from '../plan';
import { redisQuote, redisSize } from '../redis-topology';
import { ensureRoleAndDatabaseSql } from '../sql';
import { bucketCommands, bucketName, LIFECYCLE, mcArgv, mcHostUrl, type McCommand } from '../minio-topology';
import { shellScript } from '../../util/shell-script';

/**
 * The Incus data tier's services (seed 257ea4b159): one container each,
 * `<prefix>postgres|redis|rabbitmq|minio`, created only when absent and
 * never destroyed. Everything here is pure: what each container should hold,
 * the constant scripts that inspect and configure it (data as arguments,
 * contents and passwords on stdin), and the plan from an inspected state.
 */
export type ServiceName = 'postgres' | 'redis' | 'rabbitmq' | 'minio';
const SERVICE_ORDER: readonly ServiceName[] = ['postgres', 'redis', 'rabbitmq', 'minio'];

export const PORTS = { postgres: 5432, redis: 6379, rabbitmq: 5672, minio: 9000 } as const;

/** The Debian packages each service needs (MinIO has none: its binary comes from the operator). */
const PACKAGES: Record<ServiceName, string[]> = {
  postgres: ['postgresql'],
  redis: ['redis-server'],
  rabbitmq: ['rabbitmq-server'],
  minio: [],
};

export interface Secrets {
  postgres: string;
  redis?: string;
  rabbitmq?: string;
  minio?: string;
}

export function configuredServices(env: Environment): ServiceName[] {
  return SERVICE_ORDER.filter((s) => s === 'postgres' || env.data[s] !== undefined);
}

export function containerName(env: Pick<Environment, 'prefix'>, service: ServiceName): string {
  return cli.checkName('data container', `${env.prefix}${service}`);
}

/** Node i (0-based) of the Sentinel topology: `<prefix>redis-<i+1>`. */
export function redisNodeContainer(env: Pick<Environment, 'prefix'>, index: number): string {
  return cli.checkName('data container', `${env.prefix}redis-${index + 1}`);
}

/** Node i (0-based) of the distributed MinIO topology: `<prefix>minio-<i+1>`. */
export function minioNodeContainer(env: Pick<Environment, 'prefix'>, index: number): string {
  return cli.checkName('data container', `${env.prefix}minio-${index + 1}`);
}

/** The media cache's container (`data.minio.cache`). */
export function cacheContainer(env: Pick<Environment, 'prefix'>): string {
  return cli.checkName('data container', `${env.prefix}minio-cache`);
}

/** The HA topology's containers: `<prefix>pg-monitor`, `<prefix>pg-1..N`, `<prefix>pgbouncer`. */
export function pgHaContainers(env: Pick<Environment, 'prefix'>, nodes: number): { monitor: string; nodes: string[]; pgbouncer: string } {
  const name = (suffix: string) => cli.checkName('data container', `${env.prefix}${suffix}`);
  return { monitor: name('pg-monitor'), nodes: Array.from({ length: nodes }, (_, i) => name(`pg-${i + 1}`)), pgbouncer: name('pgbouncer') };
}

/**
 * Every data container of the environment: one per service, the Sentinel topology's redis-1..N instead of redis,
 * the HA topology's monitor, nodes and PgBouncer instead of postgres, the distributed minio-1..N instead of minio,
 * then the media cache.
 */
export function dataContainers(env: Environment): string[] {
  const { redis, minio } = env.data;
  return [
    ...configuredServices(env).flatMap((s) => {
      if (s === 'redis' && redis?.topology === 'sentinel') return Array.from({ length: redis.sentinel.nodes }, (_, i) => redisNodeContainer(env, i));
      if (s === 'minio' && minio?.topology === 'distributed') return Array.from({ length: minio.nodes }, (_, i) => minioNodeContainer(env, i));
      const ha = s === 'postgres' ? haSettings(env) : undefined;
      if (ha) {
        const c = pgHaContainers(env, ha.nodes);
        return [c.monitor, ...c.nodes, c.pgbouncer];
      }
      return [containerName(env, s)];
    }),
    ...(minio?.cache ? [cacheContainer(env)] : []),
  ];
}

/** How slots reach a service: its container's name on the Incus network's DNS. */
export function serviceHost(env: Environment, settings: IncusSettings, service: ServiceName): string {
  return `${containerName(env, service)}.${settings.dnsSuffix}`;
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

// ---- scripts (constant; $1… are their data) -------------------------------

/** Bounded: the container booted and has an address (DHCP), so package installs and clients work. */
export const WAIT_BOOTED = shellScript('data/incus/scripts/wait-booted.sh');

const INSTALL_PACKAGES = shellScript('data/incus/scripts/install-packages.sh');

/** Replaces a config file atomically: $1 its directory (a `*` is resolved: postgres' version), $2 its name, $3 owner, $4 mode. */
const WRITE_CONFIG = shellScript('data/incus/scripts/write-config.sh');

const RESTART = shellScript('data/incus/scripts/restart.sh');

/** key=value lines the plan compares with what it wants; a missing tool prints installed=0. */
export const INSPECT: Record<ServiceName, string> = {
  postgres: shellScript('data/incus/scripts/inspect-postgres.sh'),
  redis: shellScript('data/incus/scripts/inspect-redis.sh'),
  rabbitmq: shellScript('data/incus/scripts/inspect-rabbitmq.sh'),
  minio: shellScript('data/incus/scripts/inspect-minio.sh'),
};

/** Logs in as the app role with the password from stdin: prints the database's owner, or nothing. */
export const POSTGRES_APP_CHECK = shellScript('data/incus/scripts/postgres-app-check.sh');

/** Waits (bounded) for redis to answer PONG to the password from stdin. */
const REDIS_READY = shellScript('data/incus/scripts/redis-ready.sh');

/**
 * rabbitmqctl reads a password from stdin when none is given, so it never
 * reaches argv; the Erlang VM also swallows any stdin it is handed, so the
 * password is read first and every other call gets /dev/null. $1 user, $2 vhost.
 */
export const RABBITMQ_INSPECT = shellScript('data/incus/scripts/rabbitmq-inspect.sh');

const RABBITMQ_VHOST = shellScript('data/incus/scripts/rabbitmq-vhost.sh');
const RABBITMQ_USER = shellScript('data/incus/scripts/rabbitmq-user.sh');
const RABBITMQ_PERMS = shellScript('data/incus/scripts/rabbitmq-perms.sh');

/** Runs its arguments with mc's alias `veza` from the first line of stdin (MC_HOST_veza, never argv); the rest of stdin is theirs. */
const WITH_MC_HOST = shellScript('data/incus/scripts/with-mc-host.sh');
/** The local tier's bounded wait until the MinIO behind alias veza has write quorum ($1 is mc). */
const MC_READY = shellScript('data/local/scripts/mc-ready.sh');

/** Creates the minio-user and its data folder; $@ the drive folders it must own. */
const MINIO_USER = shellScript('data/incus/scripts/minio-user.sh');

const MINIO_RESTART = shellScript('data/incus/scripts/minio-restart.sh');

// ---- desired contents ------------------------------------------------------

export function postgresConf(port: number): string {
  return `# written by veza\nlisten_addresses = '*'\nport = ${port}\npassword_encryption = scram-sha-256\n`;
}

/** Local administration by peer; the app role from its own network only. */
export function postgresHba(database: string, user: string): string {
  return [
    '# written by veza',
    'local   all        postgres                 peer',
    'local   all        all                      peer',
    'host    all        all        127.0.0.1/32  scram-sha-256',
    `host    ${database}  ${user}  samenet  scram-sha-256`,
    '',
  ].join('\n');
}

function oneLine(what: string, secret: string): string {
  if (/[\r\n\0]/.test(secret)) throw new VezaError(`the ${what} password holds a line break or NUL`, 'use a password on one line', 'INVALID_INPUT');
  return secret;
}

/** A complete redis.conf: password, append-only file, LRU eviction under the memory cap. */
export function redisConf(password: string, maxmemory: string): string {
  const quoted = redisQuote('redis password', password);
  return [
    '# written by veza; holds the password: 0640 redis',
    'bind 0.0.0.0',
    'protected-mode yes',
    `port ${PORTS.redis}`,
    `requirepass ${quoted}`,
    'appendonly yes',
    'appendfsync everysec',
    `maxmemory ${redisSize(maxmemory)}`,
    'maxmemory-policy allkeys-lru',
    'dir /var/lib/redis',
    'pidfile /run/redis/redis-server.pid',
    'logfile /var/log/redis/redis-server.log',
    '',
  ].join('\n');
}

export function minioEnv(password: string): string {
  return minioEnvFile({ MINIO_ROOT_USER: 'veza', MINIO_ROOT_PASSWORD: password, MINIO_VOLUMES: '/var/lib/minio', MINIO_OPTS: `--address :${PORTS.minio}` });
}

/** /etc/default/minio as systemd's EnvironmentFile reads it: one double-quoted, escaped value a line. */
export function minioEnvFile(vars: Record<string, string>): string {
  const lines = Object.entries(vars).map(([k, v]) => `${k}="${oneLine('minio', v).replace(/[\\"$`]/g, (c) => `\\${c}`)}"`);
  return `# written by veza; holds the root password: 0600\n${lines.join('\n')}\n`;
}

export const MINIO_UNIT = [
  '# written by veza',
  '[Unit]',
  'Description=MinIO object storage',
  'After=network-online.target',
  '',
  '[Service]',
  'User=minio-user',
  'Group=minio-user',
  'EnvironmentFile=/etc/default/minio',
  'ExecStart=/usr/local/bin/minio server $MINIO_OPTS $MINIO_VOLUMES',
  'Restart=on-failure',
  'LimitNOFILE=65536',
  'NoNewPrivileges=yes',
  'ProtectSystem=strict',
  'ReadWritePaths=/var/lib/minio',
  'ProtectHome=yes',
  'PrivateTmp=yes',
  '',
  '[Install]',
  'WantedBy=multi-user.target',
  '',
].join('\n');

/** `argv` in container `ct` with mc's alias `veza` naming the MinIO there on `port`: the credentials are stdin's first line, `input` the rest. */
export function withMcHost(scope: cli.IncusScope, ct: string, port: number, password: string, argv: string[], o: { description: string; timeoutMs: number; input?: string }): Command {
  return cli.exec(scope, ct, ['sh', '-c', WITH_MC_HOST, 'with-mc-host', ...argv], { description: o.description, timeoutMs: o.timeoutMs, input: `${mcHostUrl({ host: '127.0.0.1', port }, oneLine('minio', password))}\n${o.input ?? ''}` });
}

/** Where a MinIO container records that the bucket was set up as `minioBucketStamp` says (the bucket cannot be read without credentials). */
const MINIO_BUCKET_STAMP = '/etc/veza-minio-bucket.sha256';

export function minioBucketStamp(bucket: string): string {
  return sha256(`${bucket}\n${LIFECYCLE}`);
}

/**
 * From container `ct` (whose MinIO listens on `port`): a bounded wait for
 * write quorum, then the bucket, its versioning and lifecycle (each
 * idempotent, from minio-topology's bucketCommands), then the stamp.
 */
export function minioBucketSteps(ctx: PlanContext, ct: string, port: number, bucket: string): PlanStep[] {
  return [
    run(`wait until minio in ${ct} has write quorum`, withMcHost(ctx.client.scope, ct, port, ctx.secrets.minio!, ['sh', '-c', MC_READY, 'mc-ready', 'mc'], { description: 'wait for minio', timeoutMs: 5 * 60_000 })),
    ...mcSteps(ctx, ct, port, bucketCommands(bucket)),
    writeConfigStep(ctx, ct, MINIO_BUCKET_STAMP, `${minioBucketStamp(bucket)}\n`, { owner: 'root:root', mode: '0644', title: `record ${bucket}'s settings in ${ct}`, secret: false }),
  ];
}

/** mc `commands` (each idempotent) in container `ct`, with the alias `veza` naming its MinIO on `port`, as plan steps. */
export function mcSteps(ctx: PlanContext, ct: string, port: number, commands: readonly McCommand[]): PlanStep[] {
  return commands.map((c) => run(`ensure ${c.title}`, withMcHost(ctx.client.scope, ct, port, ctx.secrets.minio!, mcArgv('mc', c), { description: `ensure ${c.title}`, timeoutMs: 5 * 60_000, ...(c.input === undefined ? {} : { input: c.input }) })));
}

/** Steps that make the minio-user own its folder and `drives`, and (re)start minio under systemd. */
export function minioUserStep(ctx: PlanContext, ct: string, drives: readonly string[]): PlanStep {
  return run(`create the minio-user in ${ct}`, shellIn(ctx, ct)(MINIO_USER, [...drives], 'create the minio user'));
}

export function minioRestartStep(ctx: PlanContext, ct: string): PlanStep {
  return run(`restart minio in ${ct}`, shellIn(ctx, ct)(MINIO_RESTART, [], 'restart minio', { timeoutMs: 2 * 60_000 }));
}

// ---- the plan ---------------------------------------------------------------

export interface ServiceState {
  service: ServiceName;
  container: string;
  exists: boolean;
  running: boolean;
  /** INSPECT's key=value lines; empty when the container does not run. */
  facts: Record<string, string>;
  /** postgres: the owner of the app database when the app role logs in with its password. */
  appOwner?: string;
  /** rabbitmq: RABBITMQ_INSPECT's answers. */
  broker?: Record<string, string>;
}

export function parseFacts(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) out[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  return out;
}

export interface PlanContext {
  env: Environment;
  settings: IncusSettings;
  pool: string;
  client: IncusClient;
  secrets: Secrets;
  /** MinIO's operator-provided binaries on the runner; mc is expected beside minio. */
  minio?: { server: string; client: string; serverSha256: string };
}

const run = (title: string, command: Command): PlanStep => ({ kind: 'run', title, command });

type ShellIn = (script: string, args: string[], description: string, o?: { input?: string; timeoutMs?: number; env?: Record<string, string> }) => Command;

/** A constant script run with `sh -c` in container `ct`, its data as arguments, contents and passwords on stdin. */
export function shellIn(ctx: PlanContext, ct: string): ShellIn {
  return (script, args, description, o = {}) =>
    cli.exec(ctx.client.scope, ct, ['sh', '-c', script, 'veza', ...args], { description, timeoutMs: o.timeoutMs ?? 5 * 60_000, ...(o.input !== undefined ? { input: o.input } : {}), ...(o.env ? { env: o.env } : {}) });
}

/** Replaces a config file of container `ct` atomically, its content on stdin (never argv). */
export function writeConfigStep(ctx: PlanContext, ct: string, path: string, content: string, o: { owner: string; mode: string; title: string; secret: boolean }): PlanStep {
  return run(o.title, shellIn(ctx, ct)(WRITE_CONFIG, [posix.dirname(path), posix.basename(path), o.owner, o.mode], `${o.title}${o.secret ? ' (secret content on stdin)' : ''}`, { input: content }));
}

export function restartStep(ctx: PlanContext, ct: string, unit: string): PlanStep {
  return run(`restart ${unit} in ${ct}`, shellIn(ctx, ct)(RESTART, [unit], `restart ${unit}`, { timeoutMs: 2 * 60_000 }));
}

/** Bounded wait until redis on `port` of `ct` answers the password (stdin) with PONG. */
export function redisReadyStep(ctx: PlanContext, ct: string, port: number, password: string): PlanStep {
  return run(`wait for redis in ${ct} to answer its password`, shellIn(ctx, ct)(REDIS_READY, [String(port)], 'wait for redis', { input: `${password}\n`, timeoutMs: 60_000 }));
}

/**
 * What every data container's plan begins with: created when absent (with
 * `user.veza.data` = `data`), started when stopped, booted, its Debian
 * packages installed when missing.
 */
export function planContainer(ctx: PlanContext, c: { container: string; data: string; exists: boolean; running: boolean; installed: boolean }, packages: readonly string[]): PlanStep[] {
  const { client } = ctx;
  const ct = c.container;
  const sh = shellIn(ctx, ct);
  const steps: PlanStep[] = [];
  if (!c.exists) {
    steps.push(run(`create ${ct} (never destroyed by the pipeline)`, cli.launch(client.scope, { image: ctx.settings.image, name: ct, profiles: [DATA_PROFILE], network: ctx.settings.network, pool: ctx.pool, config: { 'user.veza.data': c.data } })));
  } else if (!c.running) {
    steps.push(run(`start ${ct}`, cli.startInstance(client.scope, ct)));
  }
  if (!c.exists || !c.running) steps.push(run(`wait for ${ct} to boot`, sh(WAIT_BOOTED, [], `wait for ${ct} to boot`, { timeoutMs: 5 * 60_000 })));
  if (packages.length && (!c.exists || !c.installed)) steps.push(installStep(ctx, ct, packages));
  return steps;
}

/** Debian's `packages` installed in `ct` (idempotent). */
export function installStep(ctx: PlanContext, ct: string, packages: readonly string[]): PlanStep {
  return run(`install ${packages.join(', ')} in ${ct}`, shellIn(ctx, ct)(INSTALL_PACKAGES, [...packages], `install ${packages.join(', ')}`, { timeoutMs: 20 * 60_000, env: { DEBIAN_FRONTEND: 'noninteractive' } }));
}

export function planService(ctx: PlanContext, st: ServiceState): PlanStep[] {
  const { client, env } = ctx;
  const ct = st.container;
  const fresh = !st.exists;
  const sh = shellIn(ctx, ct);
  const writeConfig = (path: string, content: string, owner: string, mode: string, title: string, secret: boolean) => writeConfigStep(ctx, ct, path, content, { owner, mode, title, secret });
  const f = st.facts;
  const steps = planContainer(ctx, { container: ct, data: `${env.name}/${st.service}`, exists: st.exists, running: st.running, installed: f.installed === '1' }, PACKAGES[st.service]);

  switch (st.service) {
    case 'postgres': {
      const pg = env.data.postgres;
      const conf = postgresConf(pg.port);
      const hba = postgresHba(pg.database, pg.user);
      const changed: PlanStep[] = [];
      if (f.conf !== sha256(conf)) changed.push(writeConfig('/etc/postgresql/*/main/conf.d/veza.conf', conf, 'postgres:postgres', '0644', `write ${ct}'s veza.conf (listen on its network, port ${pg.port})`, false));
      if (f.hba !== sha256(hba)) changed.push(writeConfig('/etc/postgresql/*/main/pg_hba.conf', hba, 'postgres:postgres', '0640', `write ${ct}'s pg_hba.conf (app role from its network, by password)`, false));
      steps.push(...changed);
      if (changed.length || f.status !== 'online') steps.push(restartStep(ctx, ct, 'postgresql'));
      if (st.appOwner !== pg.user) {
        steps.push(run(`ensure role ${pg.user} and database ${pg.database}`, cli.exec(client.scope, ct, ['runuser', '-u', 'postgres', '--', 'psql', '--no-psqlrc', '--quiet', '--set', 'ON_ERROR_STOP=1', '--dbname', 'postgres'], {
          input: ensureRoleAndDatabaseSql(pg.user, pg.database, ctx.secrets.postgres),
          description: 'create the app role and database',
          timeoutMs: 2 * 60_000,
        })));
      }
      break;
    }
    case 'redis': {
      const conf = redisConf(ctx.secrets.redis!, env.data.redis!.maxmemory);
      const changed = f.conf !== sha256(conf);
      if (changed) steps.push(writeConfig('/etc/redis/redis.conf', conf, 'redis:redis', '0640', `write ${ct}'s redis.conf (password, appendonly, allkeys-lru)`, true));
      if (changed || f.active !== 'active') steps.push(restartStep(ctx, ct, 'redis-server'), redisReadyStep(ctx, ct, PORTS.redis, ctx.secrets.redis!));
      break;
    }
    case 'rabbitmq': {
      const r = env.data.rabbitmq!;
      const b = st.broker ?? {};
      if (f.active !== 'active') steps.push(run(`start rabbitmq-server in ${ct}`, sh(RESTART, ['rabbitmq-server'], 'start rabbitmq-server', { timeoutMs: 5 * 60_000 })));
      if (b.vhost !== '1') steps.push(run(`add vhost ${r.vhost}`, sh(RABBITMQ_VHOST, [r.vhost], `add vhost ${r.vhost}`)));
      if (b.user !== '1' || b.password !== '1') steps.push(run(`ensure user ${r.user} with its password`, sh(RABBITMQ_USER, [r.user], `ensure user ${r.user}`, { input: `${ctx.secrets.rabbitmq!}\n` })));
      if (b.perms !== '1') steps.push(run(`grant ${r.user} everything on ${r.vhost}`, sh(RABBITMQ_PERMS, [r.user, r.vhost], `grant ${r.user} on ${r.vhost}`)));
      break;
    }
    case 'minio': {
      const m = ctx.minio;
      if (!m) throw new VezaError(`environment ${env.name} has MinIO but no data.minio.binary`, 'set data.minio.binary to the path of the minio server binary (mc beside it)', 'BAD_CONFIG');
      const envFile = minioEnv(ctx.secrets.minio!);
      const changed: PlanStep[] = [];
      if (f.binary !== m.serverSha256 || f.installed !== '1') {
        changed.push(run(`push the minio server into ${ct}`, cli.filePush(client.scope, ct, m.server, '/usr/local/bin/minio', { uid: 0, gid: 0, mode: '0755' })));
        changed.push(run(`push the mc client into ${ct}`, cli.filePush(client.scope, ct, m.client, '/usr/local/bin/mc', { uid: 0, gid: 0, mode: '0755' })));
      }
      if (fresh || f.installed !== '1') changed.push(minioUserStep(ctx, ct, []));
      if (f.env !== sha256(envFile)) changed.push(writeConfig('/etc/default/minio', envFile, 'root:root', '0600', `write ${ct}'s /etc/default/minio (root credentials)`, true));
      if (f.unit !== sha256(MINIO_UNIT)) changed.push(writeConfig('/etc/systemd/system/minio.service', MINIO_UNIT, 'root:root', '0644', `write ${ct}'s minio.service`, false));
      steps.push(...changed);
      const restart = changed.length > 0 || f.active !== 'active';
      if (restart) steps.push(minioRestartStep(ctx, ct));
      const bucket = env.data.minio?.bucket ?? bucketName(env);
      if (restart || f.bucket !== minioBucketStamp(bucket)) steps.push(...minioBucketSteps(ctx, ct, PORTS.minio, bucket));
      break;
    }
  }
  return steps;
}
