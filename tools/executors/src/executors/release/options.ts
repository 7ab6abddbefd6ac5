import { z } from 'zod';
import { envOption } from '../../option-schema';

export const schema = z.strictObject({
  env: envOption().default('local'),
  sha: z.string().describe('Release to publish: the 40-hex commit checked out (with its history, to find the previous release). Default: what the workspace builds.').optional(),
}).meta({
  title: 'Publish a release',
  description: 'CI\'s build job: publish the release manifest of --sha. Components whose inputs did not change since the nearest earlier release published in the environment\'s registry keep that release\'s artifact; the others are tested, built and packaged (with no secret in their environment), then published. Refused when an artifact the manifest names is not in the registry. A release already published builds nothing.',
});
