import { createHmac } from 'node:crypto';
import type { Environment, HaSettings } from '../../config/environment';
import { registerSecret } from '../../log/redact';
import type { McCommand } from '../minio-topology';

/**
 * pgBackRest's S3 repository (seed 001: "backups land in MinIO"): a bucket
 * of the environment's own MinIO, written by a MinIO user of its own whose
 * policy reaches only that bucket.
 *
 * pgBackRest speaks only HTTPS to S3 (2.45 and 2.55 have no plain-HTTP
 * option) while MinIO here serves plain HTTP to the apps and the media
 * cache. So a TLS front beside MinIO — HAProxy in TCP mode, which passes the
 * bytes untouched, so the requests' signatures still hold — terminates TLS
 * with a self-signed certificate that pgBackRest trusts as its only CA.
 * pgBackRest 2.45 matches its endpoint against the certificate's DNS names
 * and common name only, never an IP address entry: an address endpoint is
 * written as a DNS name too.
 */
export const BACKUP_S3_USER = 'veza-pgbackrest';
export const BACKUP_S3_POLICY = 'veza-pgbackrest';
export const DEFAULT_TLS_PORT = 9443;
const DEFAULT_PREFIX = '/pgbackrest';

export interface S3RepositorySettings {
  bucket: string;
  /** The repository's prefix in the bucket (pgBackRest's repo1-path). */
  path: string;
  tlsPort: number;
}

/** The environment's S3 repository settings, defaults filled; undefined for a posix repository. */
export function s3Repository(env: Pick<Environment, 'name'>, backup: HaSettings['backup']): S3RepositorySettings | undefined {
  const r = backup.repository;
  if (r.type !== 's3') return undefined;
  return { bucket: r.bucket ?? `veza-${env.name}-pgbackrest`, path: r.path ?? DEFAULT_PREFIX, tlsPort: r.tlsPort ?? DEFAULT_TLS_PORT };
}

/** Where pgBackRest finds the repository: the TLS front's name (the certificate's too), its port, and the certificate it trusts. */
export interface S3Target extends S3RepositorySettings {
  host: string;
  caFile: string;
}

/**
 * The backup user's secret key, derived from the MinIO root password: no
 * second secret to store or lose, and a new root password gives the user a
 * new key at the next provision (which rewrites every pgbackrest.conf).
 */
export function backupUserSecret(minioPassword: string): string {
  const secret = createHmac('sha256', minioPassword).update('veza pgBackRest repository key').digest('base64url');
  registerSecret(secret);
  return secret;
}

/** What pgBackRest needs of its bucket, and nothing of any other. */
export function backupPolicy(bucket: string): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Action: ['s3:GetBucketLocation', 's3:ListBucket', 's3:ListBucketMultipartUploads'], Resource: [`arn:aws:s3:::${bucket}`] },
      { Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'], Resource: [`arn:aws:s3:::${bucket}/*`] },
    ],
  });
}

/** mc invocations (alias `veza`, each idempotent) that make the bucket, the user and its policy; the secret and the policy travel on stdin. */
export function backupRepoCommands(bucket: string, secret: string): McCommand[] {
  return [
    { argv: ['mb', '--ignore-existing', `veza/${bucket}`], title: `backup bucket ${bucket}` },
    { argv: ['admin', 'user', 'add', 'veza', BACKUP_S3_USER], input: `${secret}\n`, title: `MinIO user ${BACKUP_S3_USER} (its key on stdin)` },
    { argv: ['admin', 'policy', 'create', 'veza', BACKUP_S3_POLICY], input: backupPolicy(bucket), stdinAsFile: true, title: `policy ${BACKUP_S3_POLICY}: bucket ${bucket} only` },
    { argv: ['admin', 'policy', 'attach', 'veza', BACKUP_S3_POLICY, '--user', BACKUP_S3_USER], title: `policy ${BACKUP_S3_POLICY} attached to ${BACKUP_S3_USER}` },
  ];
}

/** pgbackrest.conf's repository lines for the S3 target. */
export function s3RepoLines(t: S3Target, secret: string): string[] {
  return [
    'repo1-type=s3',
    `repo1-path=${t.path}`,
    `repo1-s3-bucket=${t.bucket}`,
    `repo1-s3-endpoint=${t.host}`,
    `repo1-storage-port=${t.tlsPort}`,
    // MinIO's default region; path-style because the bucket is no DNS name of ours.
    'repo1-s3-region=us-east-1',
    'repo1-s3-uri-style=path',
    `repo1-s3-key=${BACKUP_S3_USER}`,
    `repo1-s3-key-secret=${secret}`,
    `repo1-storage-ca-file=${t.caFile}`,
  ];
}

/** How messages name the repository. */
export function s3Label(t: S3Target): string {
  return `s3://${t.bucket}${t.path} (MinIO's TLS front ${t.host}:${t.tlsPort})`;
}

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/**
 * openssl's argv for the front's self-signed certificate (ten years; the
 * key never leaves its folder): `names` become its DNS names, an address
 * its IP entry as well.
 */
export function tlsCertArgv(keyFile: string, certFile: string, names: readonly string[]): string[] {
  const san = names.flatMap((n) => (IPV4.test(n) ? [`IP:${n}`, `DNS:${n}`] : [`DNS:${n}`])).join(',');
  return ['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '3650', '-subj', `/CN=${names[0]}`, '-addext', `subjectAltName=${san}`];
}

/**
 * The TLS front's HAProxy configuration. The certificate file holds only
 * the certificate (it is also what pgBackRest trusts); HAProxy 2.6 loads
 * the key from `<cert>.key` beside it. With several MinIO nodes, health
 * checks route around a node that is down.
 */
export function renderTlsFront(o: { bind: string; port: number; certFile: string; backends: readonly { host: string; port: number }[] }): string {
  const check = o.backends.length > 1 ? ' check inter 2s' : '';
  return [
    '# Managed by veza (infra-data:provision rewrites it): TLS in front of MinIO for pgBackRest, which speaks only HTTPS to S3.',
    'global',
    '  maxconn 256',
    'defaults',
    '  mode tcp',
    '  timeout connect 5s',
    // A backup streams one file for as long as it takes.
    '  timeout client 15m',
    '  timeout server 15m',
    'frontend minio_tls',
    `  bind ${o.bind}:${o.port} ssl crt ${o.certFile}`,
    '  default_backend minio',
    'backend minio',
    ...o.backends.map((b, i) => `  server minio${i + 1} ${b.host}:${b.port}${check}`),
    '',
  ].join('\n');
}
