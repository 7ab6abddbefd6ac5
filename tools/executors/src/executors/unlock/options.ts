import { z } from 'zod';
import { envOption } from '../../option-schema';

export const schema = z.strictObject({
  env: envOption().default('local'),
  json: z.boolean().describe('Output as JSON lines.').default(false),
}).meta({
  title: 'Remove a deploy lock',
  description: "Removes an environment's deploy lock whoever holds it, and audits it. For a holder you know is gone (a stale holder on this host is taken over by the next deploy anyway).",
});
