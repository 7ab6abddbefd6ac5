import type { Environment } from '../config/environment';
import { VezaError } from '../log/errors';

/**
 * MinIO topologies (seed 001: four nodes, one erasure set under
 * MINIO_STORAGE_CLASS_STANDARD=EC:2, a versioned bucket with lifecycle
 * rules), as argv, environment and documents the local and Incus drivers
 * share. Where a node lives is the driver's; what it runs is decided here.
 */
export type MinioSettings = NonNullable<Environment['data']['minio']>;

export interface MinioNode {
  index: number;
  host: string;
  port: number;
  /** The node's data folder; its drives are `<dir>/d<j>`. */
  dir: string;
}

export const MINIO_ROOT_USER = 'veza';

export function minioNodeCount(s: MinioSettings): number {
  return s.topology === 'distributed' ? s.nodes : 1;
}

export function bucketName(env: Pick<Environment, 'name'>): string {
  return `veza-${env.name}`;
}

/** Every drive of the topology, in the order every node must be given them (one erasure set). */
export function minioEndpoints(s: MinioSettings, nodes: readonly MinioNode[]): string[] {
  const drives = (n: MinioNode) => Array.from({ length: s.drivesPerNode }, (_, j) => `${n.dir}/d${j}`);
  if (s.topology === 'single') return drives(nodes[0]!);
  return nodes.flatMap((n) => drives(n).map((d) => `http://${n.host}:${n.port}${d}`));
}

/** `minio server …` for one node: it finds its own drives among the endpoints by its address and port. */
export function minioServerArgs(s: MinioSettings, nodes: readonly MinioNode[], node: MinioNode): string[] {
  return ['server', '--quiet', '--address', `${node.host}:${node.port}`, ...minioEndpoints(s, nodes)];
}

/**
 * The server's environment (the root password travels here, never in
 * argv). MinIO's lifecycle has no AbortIncompleteMultipartUpload; the seed's
 * "abort incomplete multipart uploads after 7 d" is its stale-upload expiry.
 */
export function minioServerEnv(s: MinioSettings, password: string): Record<string, string> {
  if (password.length < 8) throw new VezaError('the MinIO root password is shorter than 8 characters, which MinIO refuses', 'use a longer password', 'INVALID_INPUT');
  return {
    MINIO_ROOT_USER,
    MINIO_ROOT_PASSWORD: password,
    MINIO_BROWSER: 'off',
    MINIO_API_STALE_UPLOADS_EXPIRY: '168h',
    ...(s.topology === 'distributed' ? { MINIO_STORAGE_CLASS_STANDARD: `EC:${s.parity}` } : {}),
  };
}

/** How slots reach the bucket (the names the seed's backend reads), at `endpoint`: a MinIO node, or the media cache in front of them. */
export function s3AppEnv(endpoint: Pick<MinioNode, 'host' | 'port'>, bucket: string, password: string): Record<string, string> {
  return { S3_ENDPOINT: `http://${endpoint.host}:${endpoint.port}`, S3_BUCKET: bucket, S3_ACCESS_KEY: MINIO_ROOT_USER, S3_SECRET_KEY: password };
}

/** mc's alias `veza` as one environment variable (so the credentials never reach argv). */
export function mcHostEnv(node: Pick<MinioNode, 'host' | 'port'>, password: string): Record<string, string> {
  return { MC_HOST_veza: mcHostUrl(node, password) };
}

/**
 * MC_HOST_<alias>'s value. mc splits it with a regular expression and never
 * URL-decodes it (its cmd/config.go), so the password goes in as it is; a
 * `:` in it would be read as the start of a session token.
 */
export function mcHostUrl(node: Pick<MinioNode, 'host' | 'port'>, password: string): string {
  if (password.includes(':')) throw new VezaError('the MinIO root password holds a ":", which mc reads as the start of a session token', 'use a password without ":"', 'INVALID_INPUT');
  return `http://${MINIO_ROOT_USER}:${password}@${node.host}:${node.port}`;
}

/** Seed 001's lifecycle: noncurrent versions expire after 30 days. Imported whole, so applying it twice changes nothing. */
export const LIFECYCLE = JSON.stringify({ Rules: [{ ID: 'veza-noncurrent-30d', Status: 'Enabled', Filter: { Prefix: '' }, NoncurrentVersionExpiration: { NoncurrentDays: 30 } }] });

/**
 * One mc invocation as data: its arguments after `mc`, what goes on its
 * stdin, and, with `stdinAsFile`, a last argument naming that stdin as a
 * file (mc reads a policy only from a file it opens by name).
 */
export interface McCommand {
  argv: string[];
  input?: string;
  title: string;
  stdinAsFile?: boolean;
}

/**
 * The whole argv of `c` for the `mc` binary given. A process's stdin from
 * Node or incus exec is a socket, which /dev/stdin cannot open: `cat |`
 * hands mc a pipe instead.
 */
export function mcArgv(mc: string, c: McCommand): string[] {
  const argv = [mc, '--no-color', ...c.argv];
  return c.stdinAsFile ? ['sh', '-c', 'cat | "$@" /dev/stdin', 'stdin-as-file', ...argv] : argv;
}

/** mc invocations that make the bucket exist, versioned, with the lifecycle (each idempotent). */
export function bucketCommands(bucket: string): McCommand[] {
  const target = `veza/${bucket}`;
  return [
    { argv: ['mb', '--ignore-existing', target], title: `bucket ${bucket}` },
    { argv: ['version', 'enable', target], title: `versioning on ${bucket}` },
    { argv: ['ilm', 'import', target], input: LIFECYCLE, title: `lifecycle of ${bucket}: noncurrent versions expire after 30 d` },
  ];
}

export interface MinioDrive {
  endpoint: string;
  /** MinIO's drive state: `ok`, `offline`, `unformatted`, … */
  state: string;
  healing: boolean;
}

export interface MinioStatus {
  /** `online` with write quorum, else what MinIO says (or `unreachable`). */
  mode: string;
  servers: { endpoint: string; state: string; drives: MinioDrive[] }[];
  drivesOnline: number;
  drivesOffline: number;
  /** Drives being healed, as the pools report them. */
  healing: number;
  /**
   * What the erasure sets can still do, from the parity of the standard
   * storage class: reads need `data` drives of a set online, writes `data`
   * (`data + 1` when data = parity). Absent when MinIO did not say.
   */
  quorum?: { drivesPerSet: number; parity: number; read: number; write: number; weakestSetOnline: number };
  error?: string;
}

/** MinIO's quorums for a set of `drives` drives, `parity` of them parity (cmd/erasure.go's defaultRQuorum, defaultWQuorum). */
export function erasureQuorum(drives: number, parity: number): { read: number; write: number } {
  const data = drives - parity;
  return { read: data, write: data === parity ? data + 1 : data };
}

/** `mc admin info --json`: servers and their drives, counts from the backend, healing from the drives and the pools. */
export function readMinioInfo(json: string): MinioStatus {
  const doc = JSON.parse(json) as { status?: string; error?: string | { message?: string }; info?: MinioInfo };
  const info = doc.info;
  if (doc.status !== 'success' || !info) {
    const error = (typeof doc.error === 'string' ? doc.error : doc.error?.message) ?? 'mc admin info gave no answer';
    return { mode: 'unreachable', servers: [], drivesOnline: 0, drivesOffline: 0, healing: 0, error };
  }
  const servers = (info.servers ?? []).map((s) => ({ endpoint: s.endpoint ?? '?', state: s.state ?? '?', drives: (s.drives ?? []).map((d) => ({ endpoint: d.endpoint ?? '?', state: d.state ?? '?', healing: d.healing === true })) }));
  const drives = servers.flatMap((s) => s.drives);
  const poolHeal = Object.values(info.pools ?? {}).flatMap((sets) => Object.values(sets)).reduce((n, set) => n + (set.healDisks ?? 0), 0);
  const perSet = info.backend?.totalDrivesPerSet?.[0];
  const parity = info.backend?.standardSCParity;
  // Drives grouped by their set: MinIO's quorum is per erasure set, so the weakest set decides.
  const online = new Map<string, number>();
  for (const d of (info.servers ?? []).flatMap((x) => x.drives ?? [])) {
    const set = `${d.pool_index ?? 0}/${d.set_index ?? 0}`;
    online.set(set, (online.get(set) ?? 0) + (d.state === 'ok' ? 1 : 0));
  }
  return {
    mode: info.mode ?? '?',
    servers,
    drivesOnline: info.backend?.onlineDisks ?? drives.filter((d) => d.state === 'ok').length,
    drivesOffline: info.backend?.offlineDisks ?? drives.filter((d) => d.state !== 'ok').length,
    healing: Math.max(poolHeal, drives.filter((d) => d.healing).length),
    ...(perSet && parity !== undefined && online.size ? { quorum: { drivesPerSet: perSet, parity, ...erasureQuorum(perSet, parity), weakestSetOnline: Math.min(...online.values()) } } : {}),
  };
}

interface MinioInfo {
  mode?: string;
  backend?: { onlineDisks?: number; offlineDisks?: number; standardSCParity?: number; totalDrivesPerSet?: number[] };
  servers?: { endpoint?: string; state?: string; drives?: { endpoint?: string; state?: string; healing?: boolean; pool_index?: number; set_index?: number }[] }[];
  pools?: Record<string, Record<string, { healDisks?: number }>>;
}
