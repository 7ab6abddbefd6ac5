import { haSettings, type Environment } from '../../config/environment';
import * as cli from '../../hosts/incus/cli';
import type { IncusSettings } from '../../hosts/incus/host';
import type { PlanStep } from '../plan';
import { backupPolicy, backupRepoCommands, backupUserSecret, BACKUP_S3_USER, renderTlsFront, s3Repository, tlsCertArgv, type S3Target } from '../ha/s3-repository';
import { containerName, installStep, mcSteps, minioNodeContainer, restartStep, sha256, writeConfigStep, type PlanContext } from './services';

/**
 * The HA topology's S3 repository on Incus (ha/s3-repository.ts says why a
 * TLS front): HAProxy in the environment's MinIO container — node 1 of a
 * distributed MinIO, routing to every node — with a self-signed
 * certificate made in that container for its DNS name; its key never
 * leaves it. The data nodes and the drill's container get the certificate
 * as pgBackRest's only CA.
 */
const FRONT_PACKAGES = ['haproxy', 'openssl'];
export const FRONT_CERT = '/etc/haproxy/veza-minio-front.pem';
const FRONT_CONFIG = '/etc/haproxy/haproxy.cfg';
/** Where the front's container records the backup bucket, user and policy it set up (mc cannot show a user's key). */
const BACKUP_REPO_STAMP = '/etc/veza-minio-backup-repo.sha256';
/** Where the front's container records the repository its stanza was made in (the bucket cannot be read without a key). */
export const STANZA_STAMP = '/etc/veza-pgbackrest-stanza';
/** pgBackRest's trust in the data nodes and the drill's container: the front's certificate. */
const NODE_CA_FILE = '/etc/pgbackrest-minio-ca.pem';

/** The container of the environment's MinIO that runs the front. */
export function frontContainer(env: Environment): string {
  return env.data.minio?.topology === 'distributed' ? minioNodeContainer(env, 0) : containerName(env, 'minio');
}

/** The S3 repository as the data nodes reach it; undefined for a posix repository. */
export function incusS3Target(env: Environment, settings: IncusSettings): S3Target | undefined {
  const ha = haSettings(env);
  const repo = ha && env.data.minio && s3Repository(env, ha.backup);
  return repo && { ...repo, host: `${frontContainer(env)}.${settings.dnsSuffix}`, caFile: NODE_CA_FILE };
}

/** The backup bucket, user, policy and key as set up: the stamp the front's container keeps (a hash: the key itself stays out). */
export function backupRepoStamp(t: S3Target, secret: string): string {
  return sha256(JSON.stringify([t.bucket, BACKUP_S3_USER, backupPolicy(t.bucket), sha256(secret)]));
}

/** inspect-minio.sh's facts about the front (front_installed, front_cert, front_config, front_active, backup_repo). */
export interface FrontFacts {
  front_installed?: string;
  front_cert?: string;
  front_config?: string;
  front_active?: string;
  backup_repo?: string;
}

/**
 * In the front's container `ct`, after MinIO runs: the backup bucket, user and
 * policy (when the stamp differs: a new root password gives a new key; a
 * new container has no stamp), HAProxy and openssl, the certificate once,
 * HAProxy's configuration (checked by HAProxy before it is used), and
 * HAProxy restarted when either changed or it is down.
 */
export function planMinioFront(ctx: PlanContext, ct: string, port: number, t: S3Target, backends: readonly { host: string; port: number }[], f: FrontFacts): PlanStep[] {
  const secret = backupUserSecret(ctx.secrets.minio!);
  const steps: PlanStep[] = [];
  if (f.front_installed !== '1') steps.push(installStep(ctx, ct, FRONT_PACKAGES));
  if (f.backup_repo !== backupRepoStamp(t, secret)) {
    steps.push(...mcSteps(ctx, ct, port, backupRepoCommands(t.bucket, secret)));
    steps.push(writeConfigStep(ctx, ct, BACKUP_REPO_STAMP, `${backupRepoStamp(t, secret)}\n`, { owner: 'root:root', mode: '0644', title: `record the backup repository's settings in ${ct}`, secret: false }));
  }
  const exec = (title: string, argv: string[]): PlanStep => ({ kind: 'run', title, command: cli.exec(ctx.client.scope, ct, argv, { description: title, timeoutMs: 60_000 }) });
  const newCert = f.front_cert !== '1';
  if (newCert) {
    steps.push(exec(`make the TLS front's self-signed certificate for ${t.host} in ${ct}`, tlsCertArgv(`${FRONT_CERT}.key`, FRONT_CERT, [t.host])));
    steps.push(exec(`keep the front's key to root in ${ct}`, ['chmod', '600', `${FRONT_CERT}.key`]));
  }
  const config = renderTlsFront({ bind: '*', port: t.tlsPort, certFile: FRONT_CERT, backends });
  const changed = f.front_config !== sha256(config);
  if (changed) {
    steps.push(writeConfigStep(ctx, ct, FRONT_CONFIG, config, { owner: 'root:root', mode: '0644', title: `write ${ct}'s haproxy.cfg (the TLS front on port ${t.tlsPort})`, secret: false }));
    steps.push(exec(`check ${ct}'s haproxy.cfg`, ['haproxy', '-c', '-q', '-f', FRONT_CONFIG]));
  }
  if (newCert || changed || f.front_active !== 'active') steps.push(restartStep(ctx, ct, 'haproxy'));
  return steps;
}

/** The nodes' and the drill's copy of the front's certificate (`pem`, read from the front's container). */
export function nodeCaStep(ctx: PlanContext, ct: string, t: S3Target, pem: string): PlanStep {
  return writeConfigStep(ctx, ct, t.caFile, pem, { owner: 'root:root', mode: '0644', title: `give ${ct} the TLS front's certificate (pgBackRest's CA)`, secret: false });
}
