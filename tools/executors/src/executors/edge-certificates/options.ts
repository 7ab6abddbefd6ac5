import { z } from 'zod';
import { edgeOption, envOption } from '../../option-schema';

export const schema = z.strictObject({
  env: envOption('Issue and renew the certificates of the edge this environment uses.').default('local'),
  edge: edgeOption('Work on this edge instead (infra/edges/<edge>.yaml).').optional(),
  force: z.boolean().describe('Renew every certificate now, whatever its expiry.').default(false),
  dryRun: z.boolean().describe('Print each host, whether it is due and the ACME command that would run; order nothing.').default(false),
}).meta({
  title: 'Edge certificates executor',
  description: 'Issues or renews, over ACME HTTP-01 (lego), the certificate of every host the edge serves over HTTPS when it is missing or within acme.renewDays of expiry. Each host is its own order; a new certificate reaches HAProxy through the Runtime API without a reload and is written atomically into the SNI directory. Writes days-to-expiry and renewal metrics (textfile format).',
});
