import { z } from 'zod';
import { envOption } from '../../option-schema';

export const schema = z.strictObject({
  env: envOption().default('local'),
  sha: z.string().describe('Release to deploy (40-hex git SHA, or local-<12 hex> for a file: registry). Default: what the workspace builds — HEAD, or local-<hash> of an uncommitted tree. A published sha is deployed from its manifest in the registry.').optional(),
  dryRun: z.boolean().describe('Print every phase, command and rendered file (with its diff against the live one) and change nothing.').default(false),
  json: z.boolean().describe('Progress as one JSON event per line on stdout.').default(false),
  switch: z.boolean().describe('false (--no-switch): bring the inactive colour up, probed, and stop before the switch; it is served at the environment\'s previewHosts until infra-deploy:promote (or veza promote) puts it live.').default(true),
  autoPromote: z.number().describe('With --no-switch: seconds after which the command promotes the preview if it still holds the release, healthy (the promote\'s own checks and lock), instead of the environment\'s autoPromoteSeconds; 0 keeps it for infra-deploy:promote. Checked by the engine.').optional(),
  bake: z.number().describe('Seconds of the post-switch gate (the new colour\'s error ratio at the edge), instead of the environment\'s bake.seconds; 0 skips it. Checked by the engine.').optional(),
}).meta({
  title: 'Deploy a release',
  description: 'Blue/green deploy of one environment (seed 001 deploy_app): release manifest published beside the artifacts, every artifact fetched and sha256-verified, pre-deploy data snapshot, A migrations from the tools slot, B inactive colour, C its slots re-created and health-checked, D probed from the edge, E hitless edge switch, F verification through the public URL (switched back on failure). Deploying the release that already serves is a no-op. Locked per environment, audited.',
});
