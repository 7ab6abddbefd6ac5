import { z } from 'zod';
import { envOption, forwardedFromDeploy } from '../../option-schema';

export const schema = z.strictObject({
  env: envOption('Accepted so --env can be forwarded through the graph; render always renders every edge (its output is all of dist/edge).').optional(),
  colors: z.string().regex(/^[a-z0-9=,-]*$/).describe('Explicit active colours, e.g. staging=green,prod=blue.').optional(),
  ...forwardedFromDeploy('render is pure either way.'),
}).meta({
  title: 'Edge render executor',
  description: 'Renders dist/edge/<edge>/haproxy.cfg for every edge in infra/edges from the edge, environment and component declarations. Pure: the active colour is state, so every environment is rendered blue unless --colors says otherwise; the live config bootstrap and switch write differs only in which servers start disabled.',
});
