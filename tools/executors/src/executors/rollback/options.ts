import { z } from 'zod';
import { envOption } from '../../option-schema';

export const schema = z.strictObject({
  env: envOption().default('local'),
  mode: z.enum(['fast', 'full']).describe('fast: edge flip only; full: redeploy the previous good release.').default('fast'),
  sha: z.string().describe('The release to go back to instead of the previous good one: one the history shows live and verified (never a failed one). full redeploys it; fast flips only if the other colour holds it. `veza rollback --to=<sha>` is the same option.').optional(),
  dryRun: z.boolean().describe('Print the plan and change nothing.').default(false),
  json: z.boolean().describe('Progress as one JSON event per line on stdout.').default(false),
}).meta({
  title: 'Roll back an environment',
  description: 'fast: flip the edge to the other colour after checking that its slots exist, run the release its history records and are healthy (refused, pointing at --mode=full, when that colour holds a failed release). full: redeploy the previous good release — or --sha — from its published release manifest, with no rebuild.',
});
