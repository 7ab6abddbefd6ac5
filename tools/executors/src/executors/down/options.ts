import { z } from 'zod';
import { envOption } from '../../option-schema';

export const schema = z.strictObject({
  env: envOption('A local environment (infra/environments/<env>.yaml with driver: local).').default('local'),
  dryRun: z.boolean().describe('Print what would be stopped and change nothing.').default(false),
  json: z.boolean().describe('Progress as one JSON event per line on stdout.').default(false),
}).meta({
  title: 'Stop a local environment',
  description: 'Stops every slot of a local environment, its Postgres and, once no other environment on it runs, the local edge. All state under .veza/ is kept; the next deploy brings everything back.',
});
