import { z } from 'zod';
import { envOption } from '../../option-schema';

export const schema = z.strictObject({
  env: envOption('Set up the Incus host of this environment (and read infra/host/<env>.yaml).'),
  dryRun: z.boolean().describe('Inspect the host and print every command; change nothing.').default(false),
  // Declared only to be refused with a reason: Nx would otherwise answer a bare "not found in schema".
  token: z.string().describe('Refused: the runner registration token is read only from the variable runner.tokenEnv names (default FORGEJO_RUNNER_TOKEN).').optional(),
  baseline: z.boolean().describe('Also apply the common baseline to this machine: sshd drop-in (sshd -t), fail2ban jail (fail2ban-client -t), security-only unattended-upgrades without reboot. For the environment\'s containers, run infra-host:baseline.').default(false),
}).meta({
  title: 'Incus host bootstrap',
  description: "Makes the Incus host the deploy assumes, idempotently: preseed only on a never-initialised host, the environment's project, network and veza-app/veza-data profiles with a root disk on the detected pool, the deploy runner container (Incus socket as a disk device, security.nesting, the incus client inside, registration with its labels; the token only from the variable runner.tokenEnv, on stdin), the OpenTelemetry collector in <prefix>otelcol when observability.otlpEndpoint names that container (binary, config and systemd unit), and the blackbox exporter config, probe targets, alert rules and collector config under dist/host/<env>/. Warns when the host's fs.inotify.max_user_instances is below 1024. A second run changes nothing.",
});
