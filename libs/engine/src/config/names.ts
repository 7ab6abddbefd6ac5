import { z } from 'zod';
import { VezaError } from '../log/errors';

/**
 * Strict patterns for every name that can reach a command line or a path.
 * Anything that passes is safe as a single argv element and as a path segment.
 */
export const PATTERNS = {
  sha: /^[0-9a-f]{40}$/,
  // A local, uncommitted build: `local-<12 hex of the tree hash>`; never published outside `local`.
  localVersion: /^local-[0-9a-f]{12}$/,
  env: /^[a-z][a-z0-9-]{0,30}$/,
  component: /^[a-z][a-z0-9-]{0,40}$/,
  color: /^(blue|green)$/,
  // RFC 1123 host name, lower-case, at least one dot not required (localhost).
  host: /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/,
  owner: /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/,
} as const;

/**
 * An environment name that has been checked: what the workspace hands out
 * (its files' `name:`), so code below it takes the type instead of checking
 * the string again.
 */
export const envNameSchema = z.string().regex(PATTERNS.env, 'must be lower-case letters, digits and dashes, e.g. staging').brand<'EnvName'>();
export type EnvName = z.infer<typeof envNameSchema>;

export type Color = 'blue' | 'green';

export function otherColor(c: Color): Color {
  return c === 'blue' ? 'green' : 'blue';
}

/**
 * A public host name, as environments and edge sites list them. A wildcard
 * gets its own message: HTTP-01 cannot issue `*.veza.fr` (the challenge needs
 * one reachable name per certificate, seed 4b1a401879), so list each subdomain.
 */
export const hostSchema = z.string().superRefine((s, ctx) => {
  if (s.includes('*')) ctx.addIssue({ code: 'custom', message: 'wildcard hosts cannot get a certificate over HTTP-01: list each subdomain instead' });
  else if (!PATTERNS.host.test(s)) ctx.addIssue({ code: 'custom', message: 'must be a lower-case DNS host name' });
});

/** A list of hosts in which each appears once: a repeat would be a second certificate order for the same name. */
export const hostListSchema = z.array(hostSchema).superRefine((hosts, ctx) => {
  hosts.forEach((h, i) => {
    if (hosts.indexOf(h) !== i) ctx.addIssue({ code: 'custom', path: [i], message: `${h} is listed twice: remove the repeat` });
  });
});

function check(kind: string, value: unknown, re: RegExp, hint: string): string {
  if (typeof value !== 'string' || !re.test(value)) {
    throw new VezaError(`invalid ${kind} ${JSON.stringify(value)}`, hint, 'INVALID_INPUT');
  }
  return value;
}

export const validate = {
  sha: (v: unknown) => check('release sha', v, PATTERNS.sha, 'pass a full 40-character lower-case git SHA (git rev-parse HEAD)'),
  version: (v: unknown, allowLocal: boolean) => {
    if (typeof v === 'string' && allowLocal && PATTERNS.localVersion.test(v)) return v;
    return check('version', v, PATTERNS.sha, allowLocal
      ? 'use a 40-hex git SHA, or local-<12 hex> for an uncommitted local build'
      : 'use a 40-hex git SHA; local-* versions are only for the local registry');
  },
  env: (v: unknown) => check('environment name', v, PATTERNS.env, 'use lower-case letters, digits and dashes, e.g. local, staging, prod') as EnvName,
  component: (v: unknown) => check('component name', v, PATTERNS.component, 'use [a-z][a-z0-9-]*, e.g. veza-api'),
  color: (v: unknown) => check('colour', v, PATTERNS.color, 'use blue or green') as Color,
  host: (v: unknown) => check('host name', v, PATTERNS.host, 'use a lower-case DNS name such as staging.veza.fr'),
  owner: (v: unknown) => check('registry owner', v, PATTERNS.owner, 'use the Forgejo user or organisation name'),
};
