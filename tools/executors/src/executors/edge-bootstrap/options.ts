import { z } from 'zod';
import { edgeOption, envOption } from '../../option-schema';

export const schema = z.strictObject({
  env: envOption('Bootstrap the edge this environment uses.').default('local'),
  edge: edgeOption('Bootstrap this edge instead (infra/edges/<edge>.yaml).').optional(),
  dryRun: z.boolean().describe('Print the config diff and the start or reload command; change nothing.').default(false),
}).meta({
  title: 'Edge bootstrap executor',
  description: 'Creates or updates an edge: renders its config with the recorded colours, proves it with haproxy -c, then starts HAProxy (master-worker) or reloads it seamlessly if it runs and the config changed. A local edge is a HAProxy process on loopback; an Incus edge lives in its container (HAProxy from the Debian package, a proxy device per listen address).',
});
