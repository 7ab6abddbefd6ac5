import { z } from 'zod';
import { envOption } from '../../option-schema';

export const schema = z.strictObject({
  env: envOption().default('local'),
  json: z.boolean().describe('Output as JSON lines.').default(false),
}).meta({
  title: 'Hold a deploy lock',
  description: "Takes an environment's deploy lock and keeps it after the command ends, so no deploy, rollback, switch or cleanup starts until infra-deploy:unlock (an incident, a freeze). Refused while anything else holds it. Audited.",
});
