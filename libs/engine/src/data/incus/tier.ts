import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { haSettings, type Environment } from '../../config/environment';
import { validate } from '../../config/names';
import { VezaError } from '../../log/errors';
import type { Logger } from '../../log/logger';
import { registerSecret } from '../../log/redact';
import type { ProcessRunner } from '../../ports/process';
import { sha256File } from '../../artifact/manifest';
import * as cli from '../../hosts/incus/cli';
import { IncusClient } from '../../hosts/incus/client';
import { incusSettings, planHost, type IncusSettings } from '../../hosts/incus/host';
import { parseSnapshots } from '../../hosts/incus/json';
import { buildDatabaseUrl, resolvePostgresPassword } from '../credentials';
import { STANZA, stanzaStamp } from '../ha/pgbackrest';
import { applyPlan, type DataPlan, type PlanStep } from '../plan';
import type { SnapshotInfo } from '../snapshots';
import type { DataTier, ProvisionOptions } from '../port';
import { planSnapshotPrune, planSnapshots, preDeploySnapshots, type ContainerSnapshots } from './snapshots';
import { redisAppEnv } from '../redis-topology';
import { bucketName, s3AppEnv } from '../minio-topology';
import type { ServicesStatus } from '../status';
import { cacheStatusOnIncus, incusCacheSpec, INSPECT_CACHE_ARGV, planIncusCache, type CacheState } from './cache';
import { distributedMinio, incusMinioNodes, INSPECT_MINIO_ARGV, minioStatusOnIncus, planMinioDistributed, type MinioNodeState } from './minio-distributed';
import { frontContainer, FRONT_CERT, incusS3Target, planMinioFront, STANZA_STAMP } from './minio-front';
import { appReady, incusPgHa, inspectMemberArgv, inspectPgbouncerArgv, planPgHa, readFormationOnIncus, type IncusPgHa, type PgHaContainerState, type PgHaState } from './pg-ha';
import { incusRedisNodes, inspectNodeArgv, planRedisSentinel, redisPing, sentinelSettings, sentinelStatusOnIncus, type SentinelNodeState } from './redis-sentinel';
import {
  cacheContainer, INSPECT, PORTS, POSTGRES_APP_CHECK, RABBITMQ_INSPECT, configuredServices, containerName, dataContainers, parseFacts, planService, serviceHost,
  type PlanContext, type Secrets, type ServiceName, type ServiceState,
} from './services';

/**
 * The Incus data tier: inspect every data container, plan what differs from
 * what the environment asks for, apply (or, dry, only return) the plan.
 * Containers are created when absent and never deleted; `stop` stops them,
 * keeping every byte. Snapshots are Incus snapshots, which every storage
 * driver supports (the seed's were ZFS-only).
 */
export class IncusDataTier implements DataTier {
  readonly kind = 'incus' as const;
  protected readonly settings: IncusSettings;
  protected readonly client: IncusClient;

  constructor(protected readonly env: Environment, runner: ProcessRunner, protected readonly log: Logger) {
    this.settings = incusSettings(env);
    this.client = new IncusClient(runner, this.settings.project);
  }

  async preflight(): Promise<void> {
    resolveSecrets(this.env);
    await this.minioBinaries();
  }

  async provision(opts: ProvisionOptions = {}): Promise<DataPlan> {
    const release = opts.release === undefined ? undefined : validate.version(opts.release, true);
    const secrets = resolveSecrets(this.env);
    const { host, ctx } = await this.planContext(secrets);
    const sentinel = sentinelSettings(this.env);
    const ha = this.pgHa();
    const distributed = distributedMinio(this.env);
    // The Sentinel topology's redis, the HA topology's postgres and the distributed minio are their nodes' containers: each planned together.
    const services = configuredServices(this.env).filter((s) => !(sentinel && s === 'redis') && !(ha && s === 'postgres') && !(distributed && s === 'minio'));
    const states = await this.inspect(secrets, services);
    const absentBefore = new Set(await this.absent());
    const topologies = [
      ...(sentinel ? [{ service: 'redis', plan: async () => planRedisSentinel(ctx, sentinel, this.redisNodes(), await this.inspectSentinel()) }] : []),
      ...(ha ? [{ service: 'postgres', plan: async () => planPgHa(ctx, ha, await this.inspectPgHa(ha, secrets.postgres)) }] : []),
      ...(distributed ? [{ service: 'minio', plan: async () => planMinioDistributed(ctx, distributed, this.minioNodes(), await this.inspectMinioNodes()) }] : []),
    ];
    const planned = new Map(await Promise.all(topologies.map(async (t) => [t.service, { ...t, first: await t.plan() }] as const)));
    // The cache comes after MinIO: nginx resolves its upstreams' names when it loads its config.
    const cacheState = this.env.data.minio?.cache ? await this.inspectCache() : undefined;
    const cache = cacheState ? planIncusCache(ctx, incusCacheSpec(this.env, this.settings), cacheState) : undefined;
    const s3 = incusS3Target(this.env, this.settings);
    const single = (service: ServiceName): PlanStep[] => {
      const st = states.find((x) => x.service === service)!;
      // The single MinIO's TLS front for the HA topology's S3 repository, in its own container, to itself.
      const front = service === 'minio' && s3 ? planMinioFront(ctx, st.container, PORTS.minio, s3, [{ host: '127.0.0.1', port: PORTS.minio }], st.facts) : [];
      return [...planService(ctx, st), ...front];
    };
    // An S3 repository is in MinIO: MinIO and its front come before the formation archives or makes its stanza there.
    const order = s3 ? ['minio' as const, ...configuredServices(this.env).filter((x) => x !== 'minio')] : configuredServices(this.env);
    const steps: PlanStep[] = [
      ...host.commands.map((command): PlanStep => ({ kind: 'run', title: command.description ?? 'prepare the Incus host', command })),
      ...order.flatMap((service) => planned.get(service)?.first.steps ?? single(service)),
      ...(cache?.steps ?? []),
    ];
    const present = new Set((await this.client.instances()).map((i) => i.name));
    const notes = [`storage pool ${host.pool} (from ${host.poolSource})`, ...dataContainers(this.env).filter((c) => present.has(c)).map((c) => `${c} exists: kept`), ...[...planned.values()].flatMap((p) => p.first.notes), ...(cache?.notes ?? [])];
    const names = configuredServices(this.env).join(', ');
    let plan: DataPlan = {
      steps,
      notes,
      summary: steps.length ? `${names} of ${this.env.name} ready` : `${names} of ${this.env.name} already provisioned: nothing to do`,
    };
    if (!opts.dryRun) await applyPlan(plan, this.client.runner, this.log);
    // A topology whose stopped containers were just started is planned again from what they hold.
    for (const p of [...planned.values()].filter((x) => x.first.again && !opts.dryRun)) {
      const rest = await p.plan();
      await applyPlan({ steps: rest.steps, notes: rest.notes, summary: `${p.service} of ${this.env.name} ready` }, this.client.runner, this.log);
      plan = { ...plan, steps: [...plan.steps, ...rest.steps], notes: [...plan.notes, ...rest.notes] };
    }
    if (release === undefined) return plan;
    // The snapshot is planned against the containers as they are now: provisioning may just have made them.
    const fresh = [...absentBefore];
    const snap = await this.snapshot(release, { dryRun: opts.dryRun, fresh });
    return { steps: [...plan.steps, ...snap.steps], notes: [...plan.notes, ...snap.notes], summary: snap.steps.length ? `${plan.summary}; ${snap.summary}` : plan.summary };
  }

  async snapshot(release: string, opts: { dryRun?: boolean; fresh?: string[] } = {}): Promise<DataPlan> {
    validate.version(release, true);
    const existing = await this.snapshotsOf(opts.fresh ?? []);
    const missing = dataContainers(this.env).filter((c) => !existing.some((e) => e.container === c));
    if (missing.length && !opts.dryRun) {
      throw new VezaError(`${missing.join(', ')} of ${this.env.name} do not exist, so they cannot be snapshotted`, `run: npx nx run infra-data:provision --env=${this.env.name}`, 'DATA_NOT_RUNNING');
    }
    const plan = { ...planSnapshots(this.client.scope, existing, release), summary: `pre-deploy snapshots of ${this.env.name}: incus snapshot list <container> --project ${this.settings.project}` };
    if (!opts.dryRun) await applyPlan(plan, this.client.runner, this.log);
    return plan;
  }

  async pruneSnapshots(keep: readonly string[], opts: { dryRun?: boolean } = {}): Promise<DataPlan> {
    const retention = this.env.retention.snapshots;
    const steps = planSnapshotPrune(this.client.scope, await this.snapshotsOf([]), keep, retention);
    const plan: DataPlan = { steps, notes: [], summary: steps.length ? `${steps.length} old snapshot(s) of ${this.env.name} pruned` : `no snapshot of ${this.env.name} to prune` };
    if (!opts.dryRun) await applyPlan(plan, this.client.runner, this.log);
    return plan;
  }

  async listSnapshots(): Promise<SnapshotInfo[]> {
    return (await this.snapshotsOf([]))
      .flatMap(preDeploySnapshots)
      .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || a.path.localeCompare(b.path));
  }

  async stop(): Promise<boolean> {
    const names = new Set(dataContainers(this.env));
    const running = (await this.client.instances()).filter((i) => names.has(i.name) && i.status === 'Running');
    for (const i of running) await this.client.run(cli.stopInstance(this.client.scope, i.name));
    if (running.length) this.log.info(`stopped ${running.map((i) => i.name).join(', ')}; their data stays in the containers`);
    return running.length > 0;
  }

  /** What every plan of the tier needs: the host's state (pool, missing profiles) and the context for its steps. */
  protected async planContext(secrets: Secrets) {
    const minio = await this.minioBinaries();
    const host = await planHost(this.client, this.settings);
    const ctx: PlanContext = { env: this.env, settings: this.settings, pool: host.pool, client: this.client, secrets, ...(minio ? { minio } : {}) };
    return { host, ctx };
  }

  /** The single server, or PgBouncer in front of the HA formation. */
  async databaseUrl(): Promise<string> {
    const pg = this.env.data.postgres;
    const password = await resolvePostgresPassword(this.env, '', { generate: false });
    const ha = this.pgHa();
    return buildDatabaseUrl(ha ? ha.endpoint : { host: serviceHost(this.env, this.settings, 'postgres'), port: pg.port, user: pg.user, database: pg.database }, password!.value);
  }

  protected pgHa(): IncusPgHa | undefined {
    const ha = haSettings(this.env);
    return ha ? incusPgHa(this.env, this.settings, ha) : undefined;
  }

  /** Data containers that do not exist yet. */
  private async absent(): Promise<string[]> {
    const present = new Set((await this.client.instances()).map((i) => i.name));
    return dataContainers(this.env).filter((c) => !present.has(c));
  }

  private async inspectPgHa(h: IncusPgHa, password: string): Promise<PgHaState> {
    const argvs = [inspectMemberArgv(h, h.monitor), inspectPgbouncerArgv(h), ...h.nodes.map((n) => inspectMemberArgv(h, n))];
    const containers = [h.monitor.container, h.pgbouncer.container, ...h.nodes.map((n) => n.container)];
    const [monitor, pgbouncer, ...nodes]: PgHaContainerState[] = await this.inspectContainers(containers, (_, i) => argvs[i]!);
    const read = monitor!.running ? await readFormationOnIncus(this.client, h) : undefined;
    return {
      monitor: monitor!, nodes, pgbouncer: pgbouncer!,
      formation: read?.formation, syncStandbys: read?.syncStandbys, monitorSettings: read?.monitorSettings,
      appReady: pgbouncer!.running && pgbouncer!.facts.installed === '1' && (await appReady(this.client, h, password)),
      cipherPass: await this.cipherPass(h, h.nodes.find((_, i) => nodes[i]!.running && nodes[i]!.facts[h.backrest.configFile])?.container),
      ...(h.backrest.s3 ? await this.s3RepositoryState(h) : { stanzaExists: existsSync(join(h.backrest.hostRepo, 'backup', STANZA, 'backup.info')) }),
    };
  }

  /** With an S3 repository: the front's certificate and where the stanza was made, as the front's container holds them (nothing while it does not run). */
  private async s3RepositoryState(h: IncusPgHa): Promise<{ stanzaExists: boolean; frontCert?: string }> {
    const ct = frontContainer(this.env);
    const running = (await this.client.instances()).some((i) => i.name === ct && i.status === 'Running');
    if (!running) return { stanzaExists: false };
    const [frontCert, stamp] = await Promise.all([this.client.readFile(ct, FRONT_CERT), this.client.readFile(ct, STANZA_STAMP)]);
    return { frontCert: frontCert || undefined, stanzaExists: stamp === stanzaStamp(h.backrest) };
  }

  /** The repository's passphrase from the pgbackrest.conf of `holder` (every node holds the same), or a new one. */
  protected async cipherPass(h: IncusPgHa, holder: string | undefined): Promise<string> {
    const text = holder ? await this.client.readFile(holder, h.backrest.configFile) : undefined;
    const pass = /^repo1-cipher-pass=(.+)$/m.exec(text ?? '')?.[1] ?? randomBytes(32).toString('base64url');
    registerSecret(pass);
    return pass;
  }

  /**
   * Slots' REDIS_URL or the REDIS_SENTINEL_* trio, and S3_*: the names the
   * local tier hands out, with the containers' DNS names. S3_ENDPOINT is the
   * media cache when `appsThrough` says so, else MinIO (node 1 of a
   * distributed one: any node serves the whole cluster).
   */
  async serviceEnv(): Promise<Record<string, string>> {
    const { redis: r, minio: m } = this.env.data;
    const secrets = resolveSecrets(this.env);
    const redis = r ? redisAppEnv(r, r.topology === 'sentinel' ? this.redisNodes() : [{ host: serviceHost(this.env, this.settings, 'redis'), port: PORTS.redis, sentinelPort: r.sentinel.port }], secrets.redis!) : {};
    if (!m) return redis;
    const endpoint = m.cache?.appsThrough ? { host: `${cacheContainer(this.env)}.${this.settings.dnsSuffix}`, port: m.cache.port }
      : m.topology === 'distributed' ? this.minioNodes()[0]!
      : { host: serviceHost(this.env, this.settings, 'minio'), port: PORTS.minio };
    return { ...redis, ...s3AppEnv(endpoint, m.bucket ?? bucketName(this.env), secrets.minio!) };
  }

  /** Redis as it answers from inside its containers: PING on single, every sentinel's master and replicas on sentinel. */
  async servicesStatus(): Promise<ServicesStatus> {
    return {
      ...(await this.redisStatus()),
      ...(await this.minioStatus()),
      ...(this.env.data.minio?.cache ? { cache: await cacheStatusOnIncus(this.client, this.env, this.settings) } : {}),
    };
  }

  private async redisStatus(): Promise<ServicesStatus> {
    const r = this.env.data.redis;
    if (!r) return {};
    const password = resolveSecrets(this.env).redis!;
    if (r.topology === 'sentinel') return { redis: { topology: 'sentinel', ...(await sentinelStatusOnIncus(this.client, r, this.redisNodes(), password)) } };
    const container = containerName(this.env, 'redis');
    return { redis: { topology: 'single', address: `${serviceHost(this.env, this.settings, 'redis')}:${PORTS.redis}`, answering: await redisPing(this.client, container, PORTS.redis, password) } };
  }

  /** MinIO's drives and healing, from whichever node answers first. */
  private async minioStatus(): Promise<ServicesStatus> {
    const m = this.env.data.minio;
    if (!m) return {};
    const password = resolveSecrets(this.env).minio!;
    const nodes = m.topology === 'distributed' ? this.minioNodes() : [{ container: containerName(this.env, 'minio'), port: PORTS.minio }];
    return { minio: { topology: m.topology, ...(await minioStatusOnIncus(this.client, nodes, password)) } };
  }

  private async inspectCache(): Promise<CacheState> {
    return (await this.inspectContainers([cacheContainer(this.env)], INSPECT_CACHE_ARGV))[0]!;
  }

  private minioNodes() {
    return incusMinioNodes(this.env, this.settings, this.env.data.minio!);
  }

  private inspectMinioNodes(): Promise<MinioNodeState[]> {
    return this.inspectContainers(this.minioNodes().map((n) => n.container), INSPECT_MINIO_ARGV);
  }

  private redisNodes() {
    return incusRedisNodes(this.env, this.settings, this.env.data.redis!);
  }

  private inspectSentinel(): Promise<SentinelNodeState[]> {
    return this.inspectContainers(this.redisNodes().map((n) => n.container), inspectNodeArgv(this.env.data.redis!));
  }

  /**
   * Each container's existence, whether it runs, and (when it does) the
   * key=value facts `argv` prints there. Read through IncusClient.output: an
   * answer `incus exec` cut short under load is asked again, never read as
   * "nothing installed", which would replan (and restart) a healthy node.
   */
  /** Each running container's facts, from `argv` (or the argv for the i-th container), read with the sentinel: a cut reply is asked again. */
  private async inspectContainers(containers: readonly string[], argv: readonly string[] | ((container: string, i: number) => string[])): Promise<{ exists: boolean; running: boolean; facts: Record<string, string> }[]> {
    const instances = await this.client.instances();
    return Promise.all(containers.map(async (container, i) => {
      const inst = instances.find((x) => x.name === container);
      const running = inst?.status === 'Running';
      if (!running) return { exists: Boolean(inst), running, facts: {} };
      const args = typeof argv === 'function' ? argv(container, i) : [...argv];
      return { exists: true, running, facts: parseFacts(await this.client.output(container, args, { description: `inspect ${container}`, timeoutMs: 60_000 })) };
    }));
  }

  private async inspect(secrets: Secrets, services: readonly ServiceName[]): Promise<ServiceState[]> {
    const instances = await this.client.instances();
    return Promise.all(services.map(async (service): Promise<ServiceState> => {
      const container = containerName(this.env, service);
      const inst = instances.find((i) => i.name === container);
      const running = inst?.status === 'Running';
      const st: ServiceState = { service, container, exists: Boolean(inst), running, facts: {} };
      if (!running) return st;
      st.facts = parseFacts((await this.client.sh(container, INSPECT[service], [], { description: `inspect ${service} in ${container}` })).stdout);
      if (service === 'postgres' && st.facts.status === 'online') {
        const pg = this.env.data.postgres;
        const owner = await this.client.sh(container, POSTGRES_APP_CHECK, [pg.user, pg.database, String(pg.port)], { input: `${secrets.postgres}\n`, description: `log in as ${pg.user} in ${container}` });
        st.appOwner = owner.stdout.trim();
      }
      if (service === 'rabbitmq' && st.facts.active === 'active') {
        const r = this.env.data.rabbitmq!;
        st.broker = parseFacts((await this.client.sh(container, RABBITMQ_INSPECT, [r.user, r.vhost], { input: `${secrets.rabbitmq}\n`, timeoutMs: 5 * 60_000, description: `inspect the broker in ${container}` })).stdout);
      }
      return st;
    }));
  }

  /** Snapshots of every data container that exists (or, in `fresh`, is about to); a fresh one has none. */
  private async snapshotsOf(fresh: string[]): Promise<ContainerSnapshots[]> {
    const names = dataContainers(this.env);
    const present = new Set((await this.client.instances()).map((i) => i.name));
    return Promise.all(names.filter((n) => present.has(n) || fresh.includes(n)).map(async (container) => ({
      container,
      snapshots: present.has(container) ? parseSnapshots((await this.client.run(cli.snapshotList(this.client.scope, container))).stdout) : [],
    })));
  }

  private async minioBinaries(): Promise<PlanContext['minio']> {
    const binary = this.env.data.minio?.binary;
    if (!this.env.data.minio) return undefined;
    if (!binary) throw new VezaError(`environment ${this.env.name} has MinIO but no data.minio.binary`, 'set data.minio.binary to the path of the minio server binary on the runner (mc beside it): MinIO is not packaged by Debian', 'BAD_CONFIG');
    const server = binary;
    const client = join(dirname(binary), 'mc');
    for (const f of [server, client]) {
      await sha256File(f).catch(() => {
        throw new VezaError(`MinIO binary ${f} is missing`, 'download minio and mc onto the runner and point data.minio.binary at minio', 'BAD_CONFIG');
      });
    }
    return { server, client, serverSha256: (await sha256File(server)).sha256 };
  }
}

/** Every password the environment's services need, from the variables its file names; checked before anything runs. */
export function resolveSecrets(env: Environment): Secrets {
  const need = (service: ServiceName, varName: string | undefined): string => {
    if (!varName) throw new VezaError(`environment ${env.name} names no data.${service}.passwordEnv`, `set data.${service}.passwordEnv in its environment file; passwords come from secrets, never from files in the repo`, 'BAD_CONFIG');
    const value = process.env[varName];
    if (!value) throw new VezaError(`${varName} is not set (the ${service} password of ${env.name})`, `export ${varName}=… before running, or keep it in your CI secrets`, 'MISSING_SECRET');
    registerSecret(value);
    registerSecret(encodeURIComponent(value));
    return value;
  };
  const services = configuredServices(env);
  return {
    postgres: need('postgres', env.data.postgres.passwordEnv),
    ...(services.includes('redis') ? { redis: need('redis', env.data.redis!.passwordEnv) } : {}),
    ...(services.includes('rabbitmq') ? { rabbitmq: need('rabbitmq', env.data.rabbitmq!.passwordEnv) } : {}),
    ...(services.includes('minio') ? { minio: need('minio', env.data.minio!.passwordEnv) } : {}),
  };
}

