import type { Environment } from '../config/environment';
import type { DataPlan } from './plan';
import type { SnapshotInfo } from './snapshots';
import type { ServicesStatus } from './status';

export interface ProvisionOptions {
  /** When given, a `pre-deploy-<release>` snapshot is taken (or kept, if it exists) after the services are up. */
  release?: string;
  /** Inspect and plan only; change nothing. */
  dryRun?: boolean;
}

/**
 * An environment's data services, whatever hosts them. `local` runs
 * PostgreSQL from the machine's binaries; `incus` runs postgres, redis,
 * rabbitmq and minio containers (seed 001 deploy_data). Nothing here ever
 * destroys data: there is no delete.
 */
export interface DataTier {
  readonly kind: Environment['driver'];
  /** Reads only: throws what provision would refuse (missing binaries or secrets), so a deploy refuses before its first change. */
  preflight(): Promise<void>;
  /** Makes the services exist, configured and running; returns the plan it applied (or would apply, with dryRun). */
  provision(opts?: ProvisionOptions): Promise<DataPlan>;
  /** Takes `pre-deploy-<release>` of the running services, idempotently; never deletes one. */
  snapshot(release: string, opts?: { dryRun?: boolean }): Promise<DataPlan>;
  /** After a deploy succeeded: removes the oldest pre-deploy snapshots beyond the retention, never those of `keep` (the live and previous releases). */
  pruneSnapshots(keep: readonly string[], opts?: { dryRun?: boolean }): Promise<DataPlan>;
  /** Snapshots on disk, oldest first. */
  listSnapshots(): Promise<SnapshotInfo[]>;
  /** Stops the services, keeping every byte of data; false when nothing ran. */
  stop(): Promise<boolean>;
  /** DATABASE_URL for slots and migrations; its password is registered for redaction. */
  databaseUrl(): Promise<string>;
  /**
   * Why the database takes no writes right now (its primary lost, a
   * failover under way), or undefined: read after a failed migration, to
   * tell a crash from a broken migration. A tier with one server may omit it.
   */
  unwritable?(): Promise<string | undefined>;
  /** The other services' variables for slots (REDIS_URL or REDIS_SENTINEL_*), secrets registered for redaction; a tier without them may omit it. */
  serviceEnv?(): Promise<Record<string, string>>;
  /** What infra-data:status shows of the services beside PostgreSQL (Redis, MinIO, the media cache); a tier without them may omit it. */
  servicesStatus?(): Promise<ServicesStatus>;
}
