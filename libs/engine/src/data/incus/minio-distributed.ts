import type { Environment } from '../../config/environment';
import * as cli from '../../hosts/incus/cli';
import type { IncusClient } from '../../hosts/incus/client';
import type { IncusSettings } from '../../hosts/incus/host';
import { VezaError } from '../../log/errors';
import type { Command } from '../../ports/process';
import { shellScript } from '../../util/shell-script';
import type { PlanStep } from '../plan';
import { bucketName, minioEndpoints, minioServerEnv, readMinioInfo, type MinioNode, type MinioSettings, type MinioStatus } from '../minio-topology';
import {
  MINIO_UNIT, minioBucketStamp, minioNodeContainer, minioBucketSteps, minioEnvFile, minioRestartStep, minioUserStep, planContainer, sha256, withMcHost, writeConfigStep, type PlanContext,
} from './services';
import { incusS3Target, planMinioFront } from './minio-front';

/**
 * Seed 001's distributed MinIO on Incus: `nodes` containers
 * `<prefix>minio-1..N`, each the operator's `minio` and `mc` (pushed, as the
 * pipeline ships artifacts: never downloaded in a container) under the same
 * hardened systemd unit as the single topology, every node given every drive
 * (`http://<container>.<dnsSuffix>:<port>/var/lib/minio/d<j>`, one erasure
 * set under MINIO_STORAGE_CLASS_STANDARD=EC:<parity>) by the argv and
 * environment `minio-topology.ts` renders for the local driver too. Nodes
 * know each other by their containers' DNS names on the bridge, so a
 * restarted container whose address changed is found again.
 */
export interface IncusMinioNode extends MinioNode {
  container: string;
}

const DATA_DIR = '/var/lib/minio';
const INSPECT = shellScript('data/incus/scripts/inspect-minio.sh');

export function distributedMinio(env: Environment): MinioSettings | undefined {
  const s = env.data.minio;
  return s?.topology === 'distributed' ? s : undefined;
}

export function incusMinioNodes(env: Environment, settings: IncusSettings, s: MinioSettings): IncusMinioNode[] {
  return Array.from({ length: s.nodes }, (_, index): IncusMinioNode => {
    const container = minioNodeContainer(env, index);
    return { index, container, host: `${container}.${settings.dnsSuffix}`, port: s.port, dir: DATA_DIR };
  });
}

/**
 * Every node's /etc/default/minio (the same file on each): the shared
 * server environment, the drives, and a listener on every address (the DNS
 * name is what the other nodes use). The drives are folders of the
 * container's own root volume, which MinIO would refuse as "the root drive"
 * of a distributed setup (it compares the folders' device with /'s): on
 * Incus that volume is the container's alone, never the host's system disk,
 * so the threshold below which MinIO calls a drive the root one is 1 byte.
 */
export function minioNodeEnvFile(s: MinioSettings, nodes: readonly MinioNode[], password: string): string {
  return minioEnvFile({
    ...minioServerEnv(s, password),
    MINIO_ROOTDRIVE_THRESHOLD_SIZE: '1B',
    MINIO_VOLUMES: minioEndpoints(s, nodes).join(' '),
    MINIO_OPTS: `--quiet --address :${nodes[0]!.port}`,
  });
}

export interface MinioNodeState {
  exists: boolean;
  running: boolean;
  /** inspect-minio.sh's lines: installed, binary, env, unit (sha256), active, bucket (the stamp). */
  facts: Record<string, string>;
}

/** What a node's container runs to print its facts. */
export const INSPECT_MINIO_ARGV: readonly string[] = ['sh', '-c', INSPECT, 'veza'];

/**
 * Phase by phase: every container up, then each node's binaries, user and
 * files where they differ, then every changed or stopped server restarted
 * (a node waits for the others, so all start before any is waited for),
 * then from node 1 a bounded wait for write quorum and the bucket with its
 * versioning and lifecycle. Nothing when all run as wanted. A stopped
 * container is started first and the rest planned from what it holds
 * (`again`).
 */
export function planMinioDistributed(ctx: PlanContext, s: MinioSettings, nodes: readonly IncusMinioNode[], states: readonly MinioNodeState[]): { steps: PlanStep[]; notes: string[]; again?: boolean } {
  const m = ctx.minio;
  if (!m) throw new VezaError(`environment ${ctx.env.name} has MinIO but no data.minio.binary`, 'set data.minio.binary to the path of the minio server binary (mc beside it)', 'BAD_CONFIG');
  const containers = nodes.flatMap((n, i) => {
    const st = states[i]!;
    return planContainer(ctx, { container: n.container, data: `${ctx.env.name}/minio-${n.index + 1}`, exists: st.exists, running: st.running, installed: st.facts.installed === '1' }, []);
  });
  if (states.some((st) => st.exists && !st.running)) return { steps: containers, notes: ['stopped minio containers start first; the rest is planned from what they hold'], again: true };

  const envFile = minioNodeEnvFile(s, nodes, ctx.secrets.minio!);
  const drives = Array.from({ length: s.drivesPerNode }, (_, j) => `${DATA_DIR}/d${j}`);
  const notes: string[] = [];
  const restarts: PlanStep[] = [];
  const files = nodes.flatMap((n, i): PlanStep[] => {
    const f = states[i]!.facts;
    const ct = n.container;
    const steps: PlanStep[] = [];
    if (f.binary !== m.serverSha256 || f.installed !== '1') {
      steps.push(run(`push the minio server into ${ct}`, cli.filePush(ctx.client.scope, ct, m.server, '/usr/local/bin/minio', { uid: 0, gid: 0, mode: '0755' })));
      steps.push(run(`push the mc client into ${ct}`, cli.filePush(ctx.client.scope, ct, m.client, '/usr/local/bin/mc', { uid: 0, gid: 0, mode: '0755' })));
    }
    if (f.installed !== '1') steps.push(minioUserStep(ctx, ct, drives));
    if (f.env !== sha256(envFile)) steps.push(writeConfigStep(ctx, ct, '/etc/default/minio', envFile, { owner: 'root:root', mode: '0600', title: `write ${ct}'s /etc/default/minio (root credentials, the ${nodes.length * s.drivesPerNode} drives, EC:${s.parity})`, secret: true }));
    if (f.unit !== sha256(MINIO_UNIT)) steps.push(writeConfigStep(ctx, ct, '/etc/systemd/system/minio.service', MINIO_UNIT, { owner: 'root:root', mode: '0644', title: `write ${ct}'s minio.service`, secret: false }));
    if (steps.length || f.active !== 'active') restarts.push(minioRestartStep(ctx, ct));
    else notes.push(`minio in ${ct} runs as wanted`);
    return steps;
  });
  const first = nodes[0]!;
  const bucket = ctx.env.data.minio?.bucket ?? bucketName(ctx.env);
  const setup = restarts.length || states[0]!.facts.bucket !== minioBucketStamp(bucket) ? minioBucketSteps(ctx, first.container, first.port, bucket) : [];
  // The HA topology's S3 repository: its TLS front on node 1, routing to every node.
  const target = incusS3Target(ctx.env, ctx.settings);
  const front = target ? planMinioFront(ctx, first.container, first.port, target, nodes, states[0]!.facts) : [];
  return { steps: [...containers, ...files, ...restarts, ...setup, ...front], notes };
}

/**
 * Drives and healing as MinIO's admin API reports them, asked from inside
 * each node's container in turn until one answers (mc need not be on the
 * runner; with nodes down, any live one reports the whole cluster).
 */
export async function minioStatusOnIncus(client: IncusClient, nodes: readonly (Pick<IncusMinioNode, 'container' | 'port'>)[], password: string): Promise<MinioStatus> {
  let status: MinioStatus = { mode: 'unreachable', servers: [], drivesOnline: 0, drivesOffline: 0, healing: 0, error: 'no node answered' };
  for (const n of nodes) {
    // 30 s: with three of four nodes down MinIO took about 20 s to answer (each dead peer's call times out first).
    const command = withMcHost(client.scope, n.container, n.port, password, ['timeout', '30', 'mc', '--no-color', 'admin', 'info', '--json', 'veza'], { description: `ask minio in ${n.container}`, timeoutMs: 40_000 });
    // Not client.run: a stopped container or mc's own refusal is this node's answer, not an unreachable daemon.
    const res = await client.runner.run(command, { check: false }).catch(() => undefined);
    try {
      status = readMinioInfo(res?.stdout.trim().split('\n').pop() ?? '');
    } catch {
      status = { mode: 'unreachable', servers: [], drivesOnline: 0, drivesOffline: 0, healing: 0, error: `${n.container}: ${res?.stderr.trim().split('\n').pop() || 'mc admin info failed'}` };
    }
    if (status.mode !== 'unreachable') break;
  }
  return status;
}

const run = (title: string, command: Command): PlanStep => ({ kind: 'run', title, command });
