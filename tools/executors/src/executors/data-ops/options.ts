import { z } from 'zod';
import { envOption } from '../../option-schema';

export const schema = z.strictObject({
  env: envOption().default('local'),
  action: z.enum(['status', 'failover', 'backup', 'drill']).describe('status: formation, pools, last backup and drill; failover: planned switchover; backup: pgBackRest backup; drill: restore the latest backup into a throw-away copy and check it.'),
  type: z.string().describe('backup only: full or diff.').optional(),
  keep: z.boolean().describe('drill only: leave the restored copy running for inspection.').default(false),
  json: z.boolean().describe('Log JSON lines instead of text.').default(false),
}).meta({
  title: 'Operate the HA data tier',
  description: "Operations of an environment whose data.postgres.topology is ha (pg_auto_failover formation, PgBouncer, pgBackRest): status, planned failover, backups and the restore drill, which writes veza_backup_drill_* textfile metrics. A drill with no backup fails and says so.",
});
