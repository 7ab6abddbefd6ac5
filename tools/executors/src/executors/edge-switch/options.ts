import { z } from 'zod';
import { envOption } from '../../option-schema';

export const schema = z.strictObject({
  env: envOption('Environment to switch.'),
  color: z.enum(['blue', 'green']).describe('Colour to serve.'),
  force: z.boolean().describe('Switch even if the target colour fails its health probes.').default(false),
  sha: z.string().regex(/^([0-9a-f]{40}|local-[0-9a-f]{12})$/).describe('Release the target colour holds, for the history line (40-hex sha; local-<12 hex> on local).').optional(),
  dryRun: z.boolean().describe('Print the config diff and the commands; change nothing.').default(false),
}).meta({
  title: 'Edge switch executor',
  description: 'Points an environment at the other colour without dropping a request: render, haproxy -c, health probes of the target colour, backup, atomic rename, Runtime API (or seamless reload), verify; any failure restores what the edge served before. Records the colour and a history line.',
});
