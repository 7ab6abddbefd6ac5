import { z } from 'zod';
import { envOption } from '../../option-schema';

export const schema = z.strictObject({
  env: envOption().default('local'),
  color: z.enum(['blue', 'green']).describe('The colour whose slots to remove; never the active one.'),
  dryRun: z.boolean().describe('Print what would be removed and change nothing.').default(false),
  json: z.boolean().describe('Progress as one JSON event per line on stdout.').default(false),
}).meta({
  title: "Remove one colour's slots",
  description: "Removes the slots of one colour once a failed deploy's forensics are done (seed 001 cleanup_failed). Refuses the colour the environment serves.",
});
