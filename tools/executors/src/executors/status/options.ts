import { z } from 'zod';
import { envOption } from '../../option-schema';

export const schema = z.strictObject({
  env: envOption().default('local'),
  json: z.boolean().describe('Print the report as JSON on stdout (fields: env, activeColor, release, publicUrl, components, inactive, edge, history, lock).').default(false),
}).meta({
  title: 'Show what serves an environment',
  description: 'Active colour and its release, public URL, every slot of both colours with a live health probe, the edge, the deploy history and the lock holder. Changes nothing.',
});
