import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { parseNamedYaml } from '../config/yaml-errors';
import { VezaError } from '../log/errors';

/**
 * What the host bootstrap needs beyond the environment file:
 * `infra/host/<env>.yaml`. The environment says where the deploy goes; this
 * file says who may log in to the host, how it bans, and how the deploy
 * runner registers. The runner's token lives in the environment variable it
 * names, never in a file or an argument.
 */
const envVarName = z.string().regex(/^[A-Z][A-Z0-9_]*$/, 'must be an environment variable name like FORGEJO_RUNNER_TOKEN');
/** Debian user names; sshd's AllowUsers also takes user@host patterns, which this file does not need. */
const userName = z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/, 'must be a user name (lower-case letters, digits, _ and -)');
/** A Forgejo runner label: one word, so `incus,self-hosted` splits the way the runner reads it. */
export const runnerLabel = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'must be one word of lower-case letters, digits, ".", "_" and "-" (no spaces, no ":")');
const duration = z.string().regex(/^[1-9][0-9]*[smhdw]$/, 'must be a duration such as 10m, 1h or 1d');

export const hostSettingsSchema = z.strictObject({
  name: z.string(),
  ssh: z.strictObject({
    /** Who may log in. Empty would lock every operator out, so the file refuses it. */
    allowUsers: z.array(userName).min(1, 'must name at least one user: an empty allow-list locks every operator out of the host'),
    port: z.number().int().min(1).max(65535).default(22),
  }),
  fail2ban: z.strictObject({
    bantime: duration.default('1h'),
    findtime: duration.default('10m'),
    maxretry: z.number().int().min(1).max(100).default(5),
    /** Debian 12 and 13 hosts log sshd to the journal only (no rsyslog): systemd. */
    backend: z.enum(['systemd', 'auto']).default('systemd'),
    /** Read with backend auto. */
    logpath: z.string().regex(/^\/[^\s]*$/).default('/var/log/auth.log'),
  }).default({ bantime: '1h', findtime: '10m', maxretry: 5, backend: 'systemd', logpath: '/var/log/auth.log' }),
  runner: z.strictObject({
    /** The runner container on the Incus host. */
    instance: z.string().regex(/^[a-z][a-z0-9-]{0,62}$/).default('forgejo-runner'),
    /** The Forgejo instance it registers with. */
    url: z.string().url().refine((u) => /^https?:\/\//.test(u), 'must be an http(s) URL'),
    labels: z.array(runnerLabel).min(1).default(['incus', 'self-hosted']),
    tokenEnv: envVarName.default('FORGEJO_RUNNER_TOKEN'),
  }),
});

export type HostSettings = z.infer<typeof hostSettingsSchema>;

export function hostFile(root: string, env: string): string {
  return join(root, 'infra', 'host', `${env}.yaml`);
}

export function parseHostSettings(file: string, text: string): HostSettings {
  return parseNamedYaml(file, text, hostSettingsSchema, 'fix the host file (see README, "Host setup")');
}

export async function loadHostSettings(root: string, env: string): Promise<HostSettings> {
  const file = hostFile(root, env);
  const text = await readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') throw new VezaError(`no host file for environment ${env}: ${file}`, `create it (copy infra/host/prod.yaml and adapt ssh.allowUsers and runner.url)`, 'BAD_CONFIG');
    throw e;
  });
  return parseHostSettings(file.slice(root.length + 1), text);
}
