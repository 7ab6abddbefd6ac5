import { z } from 'zod';
import { envOption } from '../../option-schema';

export const schema = z.strictObject({
  env: envOption().default('local'),
  sha: z.string().describe('The release you previewed: refused when the inactive colour holds another. Default: whatever it holds for preview.').optional(),
  bake: z.number().describe("Seconds of the post-switch gate, instead of the environment's bake.seconds; 0 skips it. Checked by the engine.").optional(),
  dryRun: z.boolean().describe('Print the plan and change nothing.').default(false),
  json: z.boolean().describe('Progress as one JSON event per line on stdout.').default(false),
}).meta({
  title: 'Promote a previewed release',
  description: 'Puts live the release `deploy --no-switch` left on the inactive colour: E switch, F verify, bake, record, as the deploy would have gone on. Refused, changing nothing, when nothing is previewed, when the colour no longer holds the previewed release, or when its slots are unhealthy.',
});
