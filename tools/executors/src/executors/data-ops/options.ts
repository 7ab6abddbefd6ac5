import { z } from 'zod';
import { envOption } from '../../option-schema';

export const schema = z.strictObject({
  env: envOption().default('local'),
  action: z.enum(['status', 'failover', 'backup', 'drill']).describe('status: the HA formation, pools, last backup and drill (ha topology), Redis master and replicas from the sentinels, MinIO drives and healing, the media cache hit ratio; failover: planned switchover; backup: pgBackRest backup; drill: restore the latest backup into a throw-away copy and check it.'),
  type: z.string().describe('backup only: full or diff.').optional(),
  keep: z.boolean().describe('drill only: leave the restored copy running for inspection.').default(false),
  json: z.boolean().describe('Log JSON lines instead of text; status prints its report as one JSON document.').default(false),
}).meta({
  title: 'Status of the data tier; operations of the HA topology',
  description: "status works on every topology (with --json, one JSON document on stdout). failover, backup and drill need data.postgres.topology: ha (pg_auto_failover formation, PgBouncer, pgBackRest); the drill restores the latest backup and writes veza_backup_drill_* textfile metrics. A drill with no backup fails and says so.",
});
