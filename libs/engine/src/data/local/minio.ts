import { accessSync, constants } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Environment } from '../../config/environment';
import { LOCAL_HOST_OCTET } from '../../hosts/naming';
import { VezaError } from '../../log/errors';
import { shellScript } from '../../util/shell-script';
import type { PlanStep } from '../plan';
import { bucketCommands, bucketName, mcArgv, mcHostEnv, minioNodeCount, minioServerArgs, minioServerEnv, readMinioInfo, s3AppEnv, type McCommand, type MinioNode, type MinioSettings, type MinioStatus } from '../minio-topology';
import type { ProcessRunner } from '../../ports/process';
import type { ServicesStatus } from '../status';
import { livePid } from './pids';

/**
 * A local environment's MinIO: `single`, or seed 001's distributed nodes,
 * each a `minio server` process on its own loopback address and port
 * (`<subnet>.(31+i)`, `port+i`: MinIO finds its own drives among the
 * endpoints by address and port), data in `.veza/envs/<env>/data/minio/node<i>`.
 * The binaries are not Debian's (there are none): `data.minio.binary`
 * names the `minio` that tools/scripts/minio-tools.sh built, `mc` beside it.
 */
export interface LocalMinioNode extends MinioNode {
  pidFile: string;
  logFile: string;
}

export interface LocalMinio {
  env: Environment;
  settings: MinioSettings;
  minio: string;
  mc: string;
  nodes: LocalMinioNode[];
  bucket: string;
  passwordFile: string;
}

const DETACH = shellScript('data/local/scripts/detach.sh');
const MC_READY = shellScript('data/local/scripts/mc-ready.sh');
const STOP_PID = shellScript('data/local/scripts/stop-pid.sh');

export function localMinio(env: Environment, dataRoot: string): LocalMinio | undefined {
  const settings = env.data.minio;
  if (!settings) return undefined;
  if (!settings.binary) throw new VezaError(`data.minio.binary of ${env.name} is not set`, 'run bash tools/scripts/minio-tools.sh (it prints the folder of minio and mc) and set data.minio.binary to <folder>/minio', 'BAD_CONFIG');
  const minio = settings.binary;
  const mc = join(dirname(minio), 'mc');
  for (const bin of [minio, mc]) {
    try {
      accessSync(bin, constants.X_OK);
    } catch {
      throw new VezaError(`${bin} is not an executable (data.minio.binary of ${env.name})`, 'build minio and mc with bash tools/scripts/minio-tools.sh', 'MISSING_TOOL');
    }
  }
  const root = join(dataRoot, 'minio');
  const nodes = Array.from({ length: minioNodeCount(settings) }, (_, index): LocalMinioNode => {
    const dir = join(root, `node${index}`);
    return { index, host: `${env.local!.subnet}.${LOCAL_HOST_OCTET.minio + index}`, port: settings.port + index, dir, pidFile: join(root, `node${index}.pid`), logFile: join(root, `node${index}.log`) };
  });
  return { env, settings, minio, mc, nodes, bucket: bucketName(env), passwordFile: join(dataRoot, 'secrets', 'minio-password') };
}

export function inspectMinio(m: LocalMinio): (number | undefined)[] {
  return m.nodes.map((n) => livePid(n.pidFile, 'minio'));
}

/** `argv` runs with mc's alias `veza` (credentials in the environment) and its own config folder. */
function withAlias(m: LocalMinio, argv: string[], password: string, description: string, input?: string, node: LocalMinioNode = m.nodes[0]!) {
  return { argv, env: { ...mcHostEnv(node, password), MC_CONFIG_DIR: join(dirname(m.nodes[0]!.dir), 'mc') }, input, description, timeoutMs: 60_000 };
}

/** Starts every node that is down, waits for write quorum, then ensures the bucket, its versioning and lifecycle. */
export function planMinio(m: LocalMinio, pids: readonly (number | undefined)[], password: string): { steps: PlanStep[]; notes: string[] } {
  const steps: PlanStep[] = [];
  const notes: string[] = [];
  const env = minioServerEnv(m.settings, password);
  for (const node of m.nodes) {
    const name = `minio node ${node.index} of ${m.env.name}`;
    const pid = pids[node.index];
    if (pid) {
      notes.push(`${name} runs (pid ${pid})`);
      continue;
    }
    steps.push({ kind: 'mkdir', title: `${name}: drives`, path: node.dir, mode: 0o700 });
    for (let j = 0; j < m.settings.drivesPerNode; j++) steps.push({ kind: 'mkdir', title: `${name}: drive d${j}`, path: join(node.dir, `d${j}`), mode: 0o700 });
    steps.push({ kind: 'run', title: `${name}: start on ${node.host}:${node.port}`, command: { argv: ['sh', '-c', DETACH, 'detach', node.logFile, node.pidFile, m.minio, ...minioServerArgs(m.settings, m.nodes, node)], env, description: `start ${name}`, timeoutMs: 15_000 } });
  }
  steps.push({ kind: 'run', title: `wait until minio of ${m.env.name} has write quorum`, command: withAlias(m, ['sh', '-c', MC_READY, 'mc-ready', m.mc], password, 'wait for minio') });
  steps.push(...mcSteps(m, password, bucketCommands(m.bucket)));
  return { steps, notes };
}

/** mc `commands` (each idempotent) run with the alias `veza`, as plan steps. */
export function mcSteps(m: LocalMinio, password: string, commands: readonly McCommand[]): PlanStep[] {
  return commands.map((c) => ({ kind: 'run', title: `ensure ${c.title}`, command: withAlias(m, mcArgv(m.mc, c), password, `ensure ${c.title}`, c.input) }));
}

export function planMinioStop(m: LocalMinio, pids: readonly (number | undefined)[]): PlanStep[] {
  return pids.flatMap((pid, i) => (pid ? [{ kind: 'run' as const, title: `stop minio node ${i} of ${m.env.name} (pid ${pid})`, command: { argv: ['sh', '-c', STOP_PID, 'stop-pid', String(pid)], description: `stop minio node ${i}`, timeoutMs: 40_000 } }] : []));
}

/** How slots reach the bucket. */
export function minioAppEnv(m: LocalMinio, password: string): Record<string, string> {
  return s3AppEnv(m.nodes[0]!, m.bucket, password);
}

/**
 * Drives and healing as MinIO's admin API reports them (`mc admin info
 * --json`), asked of each node in turn until one answers: with nodes down,
 * any live one reports the whole cluster. Unreachable is reported, not thrown.
 */
export async function minioStatus(m: LocalMinio, runner: ProcessRunner, password: string): Promise<NonNullable<ServicesStatus['minio']>> {
  let status: MinioStatus | undefined;
  for (const node of m.nodes) {
    const res = await runner.run({ ...withAlias(m, ['timeout', '10', m.mc, '--no-color', 'admin', 'info', '--json', 'veza'], password, `ask minio node ${node.index} of ${m.env.name}`, undefined, node), timeoutMs: 15_000 }, { check: false }).catch(() => undefined);
    try {
      status = readMinioInfo(res?.stdout.trim().split('\n').pop() ?? '');
    } catch {
      status = { mode: 'unreachable', servers: [], drivesOnline: 0, drivesOffline: 0, healing: 0, error: res?.exitCode === 124 ? 'no answer within 10 s' : 'mc admin info failed' };
    }
    if (status.mode !== 'unreachable') break;
  }
  return { topology: m.settings.topology, ...status! };
}
