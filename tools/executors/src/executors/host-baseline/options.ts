import { z } from 'zod';
import { envOption } from '../../option-schema';

export const schema = z.strictObject({
  env: envOption('Harden the containers of this environment (and read its SSH allow-list and fail2ban settings from infra/host/<env>.yaml).'),
  dryRun: z.boolean().describe('Check every file on a staged copy and print what would change; install nothing, reload nothing.').default(false),
  host: z.boolean().describe('Also apply the baseline to this machine (the Incus host the command runs on).').default(false),
}).meta({
  title: 'Common baseline',
  description: "Applies the common baseline through incus exec to every container of the environment that exists (its edge, data containers and deploy runner), and with --host to this machine: sshd drop-in checked with sshd -t (an empty allow-list is refused), fail2ban jail checked with fail2ban-client -t, security-only unattended-upgrades without automatic reboot checked with apt-config; the SSH parts skipped with a note where sshd is absent. Each machine is reported applied, unchanged, absent or not running; a second run changes nothing.",
});
