import { z } from 'zod';

export const schema = z.strictObject({
  env: z.string().describe("Environment name (infra/environments/<env>.yaml); its registry.url picks a local directory or Forgejo. Checked by the engine, which names the environments there are (Nx's own pattern check crashes the batch process on a bad value).").default('local'),
  dryRun: z.boolean().describe('Check the artifact, manifest, registry and token, then print what would be uploaded; upload nothing.').default(false),
}).meta({
  title: 'Publish executor',
  description: 'Publishes dist/artifacts/<project>/ (archive + manifest.json) to the registry of an environment. Idempotent: identical bytes already published is success; different bytes under the same version is an error.',
});
