import { z } from 'zod';
import { envOption } from '../../option-schema';

export const schema = z.strictObject({
  env: envOption().default('local'),
  sha: z.string().describe('Release to compare (40-hex git SHA, or local-<12 hex> for a file: registry). Default: what the workspace builds, as for deploy.').optional(),
  json: z.boolean().describe('Print the diff as JSON on stdout (fields: env, from, to, against, components).').default(false),
}).meta({
  title: 'What a deploy would change',
  description: "What deploying a release would change against the one serving, per component: artifact (version, sha256, size), declarations that moved, environment variable names added or removed (never values). The deploy's own diff phase, without the deploy; changes nothing.",
});
