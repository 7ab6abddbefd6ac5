import { z } from 'zod';
import { edgeOption, envOption, forwardedFromDeploy } from '../../option-schema';

export const schema = z.strictObject({
  edge: edgeOption('Validate only this edge.').optional(),
  env: envOption('Validate only the edge this environment uses.').optional(),
  ...forwardedFromDeploy('validate is read-only either way.'),
}).meta({
  title: 'Edge validate executor',
  description: 'Runs the real haproxy -c (zero-warning mode) on dist/edge/<edge>/haproxy.cfg; certificates or maps that do not exist on this machine are replaced by throwaway ones in a copy, never skipped.',
});
