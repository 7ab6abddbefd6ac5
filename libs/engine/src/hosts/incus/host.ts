import { parse as parseYaml } from 'yaml';
import type { Environment } from '../../config/environment';
import { INCUS_DEFAULTS } from '../../config/incus-placement';
import { VezaError } from '../../log/errors';
import type { Command } from '../../ports/process';
import * as cli from './cli';
import type { IncusClient } from './client';
import { parseNames, parseProfiles, type Profile } from './json';

/**
 * Host bootstrap: what every Veza instance on an Incus host relies on — the
 * environment's project, its network, a storage pool, and the `veza-app` /
 * `veza-data` profiles with a root disk on that pool (seed 4298f0c26a: custom
 * profiles carry no root disk of their own, and launch fails without one).
 * Inspected first, then planned as commands, so a dry-run lists them and a
 * second run has nothing to do.
 */
export const APP_PROFILE = 'veza-app';
export const DATA_PROFILE = 'veza-data';
const PROFILES = [
  { name: APP_PROFILE, description: 'Veza application containers (slots, tools, edge)' },
  { name: DATA_PROFILE, description: 'Veza data containers (postgres, redis, rabbitmq, minio)' },
] as const;
/** The instance whose pool is known to work on the seed's host (5f6625cc56). */
const POOL_REFERENCE_INSTANCE = 'forgejo';

export interface IncusSettings {
  project: string;
  network: string;
  image: string;
  dnsSuffix: string;
  /** Configured pool; when absent it is detected. */
  storagePool?: string;
  /**
   * For messages, where the network and the pool are set when not in the
   * environment file (an edge's own `incus:` block), e.g. "incus.network in
   * infra/edges/veza-lab.yaml".
   */
  origin?: { network?: string; storagePool?: string };
}

const ENV_FILE_ORIGIN = { network: 'network: in the environment file', storagePool: 'incus.storagePool in the environment file' } as const;

export function incusSettings(env: Environment): IncusSettings {
  const i: NonNullable<Environment['incus']> = env.incus ?? INCUS_DEFAULTS;
  return { project: i.project, network: env.network, image: i.image, dnsSuffix: i.dnsSuffix, ...(i.storagePool ? { storagePool: i.storagePool } : {}) };
}

/** What the seed's detection reads, in its order; each absent when that read gave nothing. */
export interface PoolEvidence {
  configured?: string;
  /** Where `configured` is set, for messages (default: the environment file). */
  configuredIn?: string;
  /** `incus config device get forgejo root pool` */
  referenceDevice?: string;
  /** `incus config show forgejo --expanded`: the root disk its profiles give it. */
  referenceExpanded?: string;
  /** `incus storage list`, in its order. */
  pools: string[];
}

/**
 * The pool to use: the configured one, else the reference instance's own
 * root device, else its expanded (profile-inherited) root, else the first
 * pool listed — the last resort the seed kept for fresh hosts. The choice
 * must exist.
 */
export function choosePool(e: PoolEvidence): { pool: string; source: string } {
  const setting = e.configuredIn ?? ENV_FILE_ORIGIN.storagePool;
  const pick = e.configured !== undefined ? { pool: e.configured, source: setting }
    : e.referenceDevice ? { pool: e.referenceDevice, source: `the root device of ${POOL_REFERENCE_INSTANCE}` }
    : e.referenceExpanded ? { pool: e.referenceExpanded, source: `the expanded config of ${POOL_REFERENCE_INSTANCE}` }
    : e.pools[0] !== undefined ? { pool: e.pools[0], source: 'the first pool incus storage list shows' }
    : undefined;
  if (!pick) throw new VezaError('this Incus host has no storage pool', 'create one (incus storage create default dir), or run incus admin init', 'NO_STORAGE_POOL');
  if (!e.pools.includes(pick.pool)) {
    throw new VezaError(`storage pool ${pick.pool} (from ${pick.source}) does not exist on this Incus host`,
      `use one of: ${e.pools.join(', ') || 'none'} (set ${setting})`, 'NO_STORAGE_POOL');
  }
  return pick;
}

/** The root disk pool in `incus config show --expanded` YAML, if it has one. */
export function expandedRootPool(yamlText: string): string | undefined {
  try {
    const doc = parseYaml(yamlText) as { devices?: Record<string, { type?: string; path?: string; pool?: string }> } | null;
    const root = Object.values(doc?.devices ?? {}).find((d) => d?.type === 'disk' && d.path === '/');
    return typeof root?.pool === 'string' && root.pool ? root.pool : undefined;
  } catch {
    return undefined;
  }
}

export async function detectPool(client: IncusClient, configured: string | undefined, configuredIn?: string): Promise<{ pool: string; source: string }> {
  const pools = parseNames((await client.run(cli.listStoragePools(client.scope))).stdout, 'incus storage list');
  const evidence: PoolEvidence = { pools, ...(configured !== undefined ? { configured } : {}), ...(configuredIn !== undefined ? { configuredIn } : {}) };
  if (configured === undefined) {
    const device = await client.run(cli.deviceGetRootPool(client.scope, POOL_REFERENCE_INSTANCE), { check: false });
    const own = device.exitCode === 0 ? device.stdout.trim() : '';
    if (own) evidence.referenceDevice = own;
    else {
      const shown = await client.run(cli.configShowExpanded(client.scope, POOL_REFERENCE_INSTANCE), { check: false });
      const inherited = shown.exitCode === 0 ? expandedRootPool(shown.stdout) : undefined;
      if (inherited) evidence.referenceExpanded = inherited;
    }
  }
  return choosePool(evidence);
}

/** Commands that give both profiles a root disk on `pool`, creating them or correcting a wrong pool. */
export function planProfiles(scope: cli.IncusScope, existing: Profile[], pool: string): Command[] {
  const out: Command[] = [];
  for (const p of PROFILES) {
    const found = existing.find((x) => x.name === p.name);
    if (!found) out.push(cli.profileCreate(scope, p.name, p.description));
    const root = found?.devices.root;
    if (!root) out.push(cli.profileRootDiskAdd(scope, p.name, pool));
    else if (root.pool !== pool) out.push(cli.profileRootPoolSet(scope, p.name, pool));
  }
  return out;
}

export interface HostPlan {
  pool: string;
  poolSource: string;
  commands: Command[];
}

/**
 * Inspects the host for an environment's settings and returns the commands
 * that would bring it in line. A missing network or image is an error: they
 * belong to the operator (or the test setup), not to a deploy.
 */
export async function planHost(client: IncusClient, s: IncusSettings): Promise<HostPlan> {
  const commands: Command[] = [];
  await client.run(cli.serverInfo());
  let projectExists = true;
  if (s.project !== 'default') {
    projectExists = parseNames((await client.run(cli.listProjects())).stdout, 'incus project list').includes(s.project);
    if (!projectExists) commands.push(cli.projectCreate(s.project));
  }
  // A project that does not exist yet cannot be asked about; its networks and profiles are the default project's until then.
  const inspect = projectExists ? client : undefined;
  const networks = parseNames((await client.run(cli.listNetworks(inspect?.scope ?? { project: 'default' }))).stdout, 'incus network list');
  if (!networks.includes(s.network)) {
    throw new VezaError(`network ${s.network} does not exist on this Incus host`,
      `create it (incus network create ${s.network}) or set ${s.origin?.network ?? ENV_FILE_ORIGIN.network}; existing: ${networks.join(', ') || 'none'}`, 'NO_NETWORK');
  }
  if (!s.image.includes(':')) {
    const image = await client.run(cli.imageInfo(inspect?.scope ?? { project: 'default' }, s.image), { check: false });
    if (image.exitCode !== 0) {
      throw new VezaError(`image ${s.image} is not known to this Incus host`, 'import it (the test tier: bash tools/scripts/incus-setup.sh) or set incus.image in the environment file', 'NO_IMAGE');
    }
  }
  const { pool, source } = await detectPool(client, s.storagePool, s.origin?.storagePool);
  const profiles = projectExists ? parseProfiles((await client.run(cli.listProfiles(client.scope))).stdout) : [];
  commands.push(...planProfiles(client.scope, profiles, pool));
  return { pool, poolSource: source, commands };
}

/** Plans and applies once per object: every consumer of one process shares the answer. */
export class IncusHost {
  private ready?: Promise<HostPlan>;

  constructor(readonly client: IncusClient, readonly settings: IncusSettings, private readonly onCommand: (c: Command) => void = () => undefined) {}

  ensure(): Promise<HostPlan> {
    this.ready ??= (async () => {
      const plan = await planHost(this.client, this.settings);
      for (const c of plan.commands) {
        this.onCommand(c);
        await this.client.run(c);
      }
      return plan;
    })();
    // A failure is not remembered: the next call inspects again.
    this.ready.catch(() => (this.ready = undefined));
    return this.ready;
  }
}
