import { z } from 'zod';
import { envOption } from '../../option-schema';

export const schema = z.looseObject({
  env: envOption().default('local'),
  sha: z.string().describe('Release about to be deployed (40-hex git SHA, or local-<12 hex> for local environments): take the pre-deploy-<sha> snapshot.').optional(),
  dryRun: z.boolean().describe('Print every step and command and change nothing.').default(false),
  json: z.boolean().describe('Log JSON lines instead of text.').default(false),
}).meta({
  title: 'Provision the data tier',
  description: "Makes an environment's data services exist, configured and running, idempotently, and never destroys data. Local environments: a PostgreSQL cluster from the machine's binaries under .veza/envs/<env>/data, on the environment's data address, with the app role and database. With --sha, also a pre-deploy-<sha> snapshot (pg_dump once the server runs; kept if it exists) pruned to retention.snapshots. Incus environments are not implemented yet. Other options forwarded by infra-deploy:deploy are accepted and ignored.",
});
