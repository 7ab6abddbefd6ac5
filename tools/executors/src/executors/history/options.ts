import { z } from 'zod';
import { envOption } from '../../option-schema';

export const schema = z.strictObject({
  env: envOption().default('local'),
  json: z.boolean().describe('Print the entries as JSON on stdout (sha, color, time, actor, manifest, outcome, declarations).').default(false),
}).meta({
  title: "An environment's deploy history",
  description: 'The releases placed on each colour, newest first, with their outcome (active, failed, rolled-back, deploying). Read from the state store, with no probe; changes nothing.',
});
