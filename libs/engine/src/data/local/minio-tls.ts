import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { haSettings, type Environment } from '../../config/environment';
import { LOCAL_HOST_OCTET } from '../../hosts/naming';
import { shellScript } from '../../util/shell-script';
import { renderTlsFront, s3Repository, tlsCertArgv, type S3Target } from '../ha/s3-repository';
import type { PlanStep } from '../plan';
import { livePid, readText } from './pids';

/**
 * A local environment's TLS front to MinIO (ha/s3-repository.ts says why):
 * an HAProxy process on MinIO's first address, port `tlsPort`, with its
 * self-signed certificate in `.veza/envs/<env>/data/minio/tls/`. There only
 * when the HA topology keeps its backups in MinIO.
 */
export interface LocalTlsFront {
  target: S3Target;
  dir: string;
  keyFile: string;
  configFile: string;
  pidFile: string;
  logFile: string;
}

const DETACH = shellScript('data/local/scripts/detach.sh');
const STOP_PID = shellScript('data/local/scripts/stop-pid.sh');
const HAPROXY = '/usr/sbin/haproxy';

export function localTlsFront(env: Environment, dataRoot: string): LocalTlsFront | undefined {
  const ha = haSettings(env);
  const repo = ha && env.data.minio && s3Repository(env, ha.backup);
  if (!repo || !env.local) return undefined;
  const dir = join(dataRoot, 'minio', 'tls');
  const certFile = join(dir, 'front.pem');
  return {
    target: { ...repo, host: `${env.local.subnet}.${LOCAL_HOST_OCTET.minio}`, caFile: certFile },
    dir,
    // HAProxy's own name for the key of `front.pem`.
    keyFile: `${certFile}.key`,
    configFile: join(dir, 'haproxy.cfg'),
    pidFile: join(dir, 'haproxy.pid'),
    logFile: join(dir, 'haproxy.log'),
  };
}

export interface TlsFrontState {
  pid?: number;
  config?: string;
  certExists: boolean;
}

export function inspectTlsFront(f: LocalTlsFront): TlsFrontState {
  return { pid: livePid(f.pidFile, 'haproxy'), config: readText(f.configFile), certExists: existsSync(f.target.caFile) && existsSync(f.keyFile) };
}

/** Whether the front accepts connections on its port. */
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port, timeout: 1_000 }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
    s.on('timeout', () => {
      s.destroy();
      resolve(false);
    });
  });
}

/** The certificate once, the configuration checked by HAProxy before it is used, and the front (re)started when it is down or its configuration changed. */
export function planTlsFront(f: LocalTlsFront, st: TlsFrontState, backends: readonly { host: string; port: number }[]): PlanStep[] {
  const t = f.target;
  const config = renderTlsFront({ bind: t.host, port: t.tlsPort, certFile: t.caFile, backends });
  const steps: PlanStep[] = [];
  if (!st.certExists) {
    steps.push(
      { kind: 'mkdir', title: 'create the TLS front folder', path: f.dir, mode: 0o755 },
      { kind: 'run', title: `make the TLS front's self-signed certificate for ${t.host}`, command: { argv: tlsCertArgv(f.keyFile, t.caFile, [t.host]), description: 'openssl req -x509', timeoutMs: 30_000 } },
      { kind: 'run', title: "keep the front's key to its owner", command: { argv: ['chmod', '600', f.keyFile], description: 'chmod the key', timeoutMs: 10_000 } },
    );
  }
  const changed = st.config !== config;
  if (changed) {
    steps.push({ kind: 'write', title: "write the TLS front's haproxy.cfg", path: f.configFile, content: config, mode: 0o644 });
    steps.push({ kind: 'run', title: "check the TLS front's configuration", command: { argv: [HAPROXY, '-c', '-q', '-f', f.configFile], description: 'haproxy -c', timeoutMs: 30_000 } });
  }
  if (st.pid && (changed || !st.certExists)) steps.push(...stopTlsFront(f, st.pid));
  if (!st.pid || changed || !st.certExists) {
    steps.push(
      { kind: 'run', title: `start the TLS front on ${t.host}:${t.tlsPort}`, command: { argv: ['sh', '-c', DETACH, 'detach', f.logFile, f.pidFile, HAPROXY, '-db', '-f', f.configFile], description: 'start the TLS front', timeoutMs: 15_000 } },
      { kind: 'wait', title: 'wait for the TLS front', what: `the TLS front accepts connections on ${t.host}:${t.tlsPort} (its log: ${f.logFile})`, timeoutMs: 15_000, check: () => accepts(t.host, t.tlsPort) },
    );
  }
  return steps;
}

export function stopTlsFront(f: LocalTlsFront, pid: number | undefined): PlanStep[] {
  return pid ? [{ kind: 'run', title: `stop the TLS front (pid ${pid})`, command: { argv: ['sh', '-c', STOP_PID, 'stop-pid', String(pid)], description: 'stop the TLS front', timeoutMs: 40_000 } }] : [];
}
