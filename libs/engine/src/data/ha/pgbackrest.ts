import type { HaSettings } from '../../config/environment';
import { s3Label, s3RepoLines, type S3Target } from './s3-repository';

/**
 * pgBackRest (seed 001, day 8): one stanza per environment in a posix
 * repository or an S3 bucket of the environment's MinIO, every data node listed so a backup finds the primary
 * whichever it is, WAL archived continuously by archive_command,
 * zstd-compressed and AES-encrypted. The cipher passphrase lives in the
 * 0600 config file, never in argv.
 */
export const STANZA = 'veza';

export interface BackrestLayout {
  configFile: string;
  /** The posix repository's folder, as the nodes see it; unused with `s3`. */
  repoPath: string;
  /** The S3 repository (s3-repository.ts), when the environment has one. */
  s3?: S3Target;
  logPath: string;
  lockPath: string;
  spoolPath: string;
  /** Every data node: path, port and the socket folder to reach it. */
  nodes: { pgdata: string; port: number; socketDir: string }[];
}

/** `s3Secret`: the backup user's key, needed with an S3 repository. */
export function renderBackrestConf(l: BackrestLayout, backup: HaSettings['backup'], cipherPass: string, s3Secret?: string): string {
  if (l.s3 && !s3Secret) throw new Error('renderBackrestConf: an S3 repository needs its key');
  return [
    '# Managed by veza (infra-data:provision rewrites it). Holds the repository passphrase: mode 0600.',
    '[global]',
    ...(l.s3 ? s3RepoLines(l.s3, s3Secret!) : [`repo1-path=${l.repoPath}`]),
    `repo1-retention-full=${backup.retentionFull}`,
    `repo1-retention-diff=${backup.retentionDiff}`,
    'repo1-cipher-type=aes-256-cbc',
    `repo1-cipher-pass=${cipherPass}`,
    'compress-type=zst',
    'compress-level=3',
    `log-path=${l.logPath}`,
    `lock-path=${l.lockPath}`,
    `spool-path=${l.spoolPath}`,
    'log-level-console=warn',
    'log-level-file=info',
    // A backup starts with an immediate checkpoint: the drill and the tests should not wait minutes for a spread one.
    'start-fast=y',
    'archive-async=n',
    '',
    `[${STANZA}]`,
    ...l.nodes.flatMap((n, i) => [`pg${i + 1}-path=${n.pgdata}`, `pg${i + 1}-port=${n.port}`, `pg${i + 1}-socket-path=${n.socketDir}`]),
    '',
  ].join('\n');
}

/** How messages name the repository. */
export function repoLabel(l: Pick<BackrestLayout, 'repoPath' | 's3'>): string {
  return l.s3 ? s3Label(l.s3) : l.repoPath;
}

/** What is recorded once the stanza is made in an S3 repository (the bucket cannot be read without its key): where it was made. */
export function stanzaStamp(l: Pick<BackrestLayout, 'repoPath' | 's3'>): string {
  return `${repoLabel(l)}\n`;
}

/**
 * The server settings that archive WAL into the repository (archive_timeout:
 * the seed's RPO of about a minute). The same file serves every node (a
 * standby's copy comes with pg_basebackup), so archive-push is told the
 * data folder it runs from — the server runs archive_command there through
 * sh — rather than the config's pg1-path: pgBackRest refuses to archive
 * from any other folder, and after a failover the primary is another node.
 */
export function renderArchiveConf(pgbackrest: string, configFile: string): string {
  return [
    '# Managed by veza: continuous WAL archive into the pgBackRest repository, from whichever node is primary.',
    'archive_mode = on',
    `archive_command = '${pgbackrest} --config=${configFile} --stanza=${STANZA} --pg1-path="$(pwd -P)" archive-push %p'`,
    'archive_timeout = 60',
    '',
  ].join('\n');
}

/**
 * The restored copy's last word on its settings: a throw-away server on
 * its own address, archiving nothing, waiting for no standby, loading no
 * pg_auto_failover (the restored files still name it).
 */
export function renderDrillOverrides(o: { host: string; port: number; socketDir: string }): string {
  return [
    '# veza restore drill: a throw-away copy on its own address, archiving nothing, waiting for no standby.',
    `listen_addresses = '${o.host}'`, `port = ${o.port}`, `unix_socket_directories = '${o.socketDir}'`,
    "synchronous_standby_names = ''", 'archive_mode = off', "shared_preload_libraries = ''", 'hot_standby = on',
  ].join('\n') + '\n';
}

export type BackupType = 'full' | 'diff';

export function backrestArgs(pgbackrest: string, configFile: string, command: string[]): string[] {
  return [pgbackrest, `--config=${configFile}`, `--stanza=${STANZA}`, ...command];
}

export const stanzaCreate = (): string[] => ['stanza-create'];
export const backupCommand = (type: BackupType): string[] => ['backup', `--type=${type}`];
export const infoCommand = (): string[] => ['info', '--output=json'];
/** Restores the latest backup into `pgdata` (a different folder than any node's), replaying the archive to its end. */
export const restoreCommand = (pgdata: string): string[] => [`--pg1-path=${pgdata}`, 'restore', '--type=default', '--archive-mode=off'];

export interface BackupInfo {
  label: string;
  type: string;
  startedAt: Date;
  stoppedAt: Date;
}

interface InfoStanza {
  name: string;
  backup?: { label: string; type: string; timestamp: { start: number; stop: number } }[];
  repo?: { status?: { code: number; message: string } }[];
}

/** pgBackRest's info status codes that mean "nothing there yet" rather than "cannot read it": 1 missing stanza path, 2 no valid backups, 3 missing stanza data. */
const EMPTY_REPO = new Set([0, 1, 2, 3]);

/**
 * `pgbackrest info --output=json`: the stanza's backups, oldest first, or
 * an Error quoting pgBackRest when the repository cannot be read (info
 * itself exits 0 on a corrupted backup.info and reports it as status 99).
 */
export function readBackupInfo(json: string): BackupInfo[] | Error {
  const stanza = (JSON.parse(json) as InfoStanza[]).find((s) => s.name === STANZA);
  const broken = stanza?.repo?.map((r) => r.status).find((st) => st && !EMPTY_REPO.has(st.code));
  if (broken) return new Error(broken.message.split('\n')[0]!);
  return (stanza?.backup ?? []).map((b) => ({ label: b.label, type: b.type, startedAt: new Date(b.timestamp.start * 1000), stoppedAt: new Date(b.timestamp.stop * 1000) }));
}
