import type { Environment } from '../../config/environment';
import type { ProcessRunner } from '../../ports/process';
import type { PlanStep } from '../plan';
import { redisAppEnv } from '../redis-topology';
import type { ServicesStatus } from '../status';
import { cacheStatus, inspectCache, localCache, planCache, planCacheStop } from './cache';
import { inspectMinio, localMinio, mcSteps, minioAppEnv, minioStatus, planMinio, planMinioStop } from './minio';
import { inspectTlsFront, localTlsFront, planTlsFront, stopTlsFront } from './minio-tls';
import { backupRepoCommands, backupUserSecret } from '../ha/s3-repository';
import { inspectRabbit, localRabbit, planRabbit, planRabbitStop, rabbitAppEnv } from './rabbitmq';
import { inspectRedis, localRedis, planRedis, planRedisStop, redisStatus } from './redis';

/**
 * The services a local environment runs beside PostgreSQL when its file
 * declares them, behind one shape so the tier provisions, stops and hands
 * out their variables the same way. Each has its own password (from its
 * passwordEnv, or generated once into `passwordFile`).
 */
export interface SideService {
  service: 'redis' | 'rabbitmq' | 'minio';
  label: string;
  passwordFile: string;
  /** `again`: apply these steps, then plan once more (what is left can only be read from the running service). */
  plan(password: string): Promise<{ steps: PlanStep[]; notes: string[]; again?: boolean }>;
  stop(password: string): Promise<PlanStep[]>;
  appEnv(password: string): Record<string, string>;
  /** What infra-data:status shows of it, asked of the running service. */
  status(password: string): Promise<ServicesStatus>;
}

/** Checks the binaries of every declared service (throws MISSING_TOOL), before anything runs. */
export function sideServices(env: Environment, dataRoot: string, runner: ProcessRunner): SideService[] {
  const out: SideService[] = [];
  const redis = localRedis(env, dataRoot);
  if (redis) {
    out.push({
      service: 'redis',
      label: `redis (${redis.settings.topology})`,
      passwordFile: redis.passwordFile,
      plan: async (pw) => planRedis(redis, inspectRedis(redis), pw),
      stop: async () => planRedisStop(redis, inspectRedis(redis)),
      appEnv: (pw) => redisAppEnv(redis.settings, redis.nodes, pw),
      status: async (pw) => ({ redis: await redisStatus(redis, runner, pw) }),
    });
  }
  const rabbit = localRabbit(env, dataRoot);
  if (rabbit) {
    out.push({
      service: 'rabbitmq',
      label: 'rabbitmq',
      passwordFile: rabbit.passwordFile,
      plan: async (pw) => planRabbit(rabbit, await inspectRabbit(rabbit, runner, pw), pw),
      stop: async (pw) => planRabbitStop(rabbit, await inspectRabbit(rabbit, runner, pw)),
      appEnv: (pw) => rabbitAppEnv(rabbit, pw),
      status: async () => ({}),
    });
  }
  const minio = localMinio(env, dataRoot);
  if (minio) {
    // The media cache lives and dies with the MinIO it fronts: started after it, stopped before it.
    const cache = localCache(env, dataRoot, minio);
    // The HA topology's S3 repository: its bucket and user, and the TLS front pgBackRest reaches them through.
    const front = localTlsFront(env, dataRoot);
    out.push({
      service: 'minio',
      label: `minio (${minio.settings.topology})${cache ? ' and its media cache' : ''}${front ? ' with the backup repository' : ''}`,
      passwordFile: minio.passwordFile,
      plan: async (pw) => {
        const m = planMinio(minio, inspectMinio(minio), pw);
        const c = cache ? planCache(cache, inspectCache(cache)) : { steps: [], notes: [] };
        const repo = front ? [...mcSteps(minio, pw, backupRepoCommands(front.target.bucket, backupUserSecret(pw))), ...planTlsFront(front, inspectTlsFront(front), minio.nodes)] : [];
        return { steps: [...m.steps, ...repo, ...c.steps], notes: [...m.notes, ...c.notes] };
      },
      stop: async () => [...(cache ? planCacheStop(cache, inspectCache(cache)) : []), ...(front ? stopTlsFront(front, inspectTlsFront(front).pid) : []), ...planMinioStop(minio, inspectMinio(minio))],
      appEnv: (pw) => ({ ...minioAppEnv(minio, pw), ...(cache && minio.settings.cache?.appsThrough ? { S3_ENDPOINT: cache.url } : {}) }),
      status: async (pw) => ({ minio: await minioStatus(minio, runner, pw), ...(cache ? { cache: await cacheStatus(cache) } : {}) }),
    });
  }
  return out;
}
