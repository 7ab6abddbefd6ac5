import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import type { Environment } from '../config/environment';
import { VezaError } from '../log/errors';
import { registerSecret } from '../log/redact';

/**
 * The app role's password: from the environment variable the environment
 * file names (`data.postgres.passwordEnv`), or — for a local environment that
 * names none — generated once and kept in a 0600 file under its state folder.
 * Every password is registered for redaction the moment it is read.
 */
export interface ResolvedPassword {
  value: string;
  /** `generated`: new, not yet on disk; the plan writes it. */
  source: 'env' | 'file' | 'generated';
}

export async function resolvePostgresPassword(env: Environment, passwordFile: string, opts: { generate: boolean }): Promise<ResolvedPassword | undefined> {
  const varName = env.data.postgres.passwordEnv;
  if (varName) {
    const value = process.env[varName];
    if (!value) {
      throw new VezaError(`${varName} is not set (the password of the ${env.data.postgres.user} role of ${env.name})`, `export ${varName}=… before running, or keep it in your CI secrets`, 'MISSING_SECRET');
    }
    return remember({ value, source: 'env' });
  }
  if (env.driver !== 'local') {
    throw new VezaError(`environment ${env.name} names no data.postgres.passwordEnv`, 'set data.postgres.passwordEnv in its environment file; only local environments generate a password', 'BAD_CONFIG');
  }
  try {
    const value = (await fs.readFile(passwordFile, 'utf8')).trim();
    if (value) return remember({ value, source: 'file' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  return opts.generate ? remember({ value: randomBytes(24).toString('base64url'), source: 'generated' }) : undefined;
}

function remember(p: ResolvedPassword): ResolvedPassword {
  registerPassword(p.value);
  return p;
}

/** Both spellings: the plain one for SQL and errors, the URL-encoded one for DATABASE_URL. */
function registerPassword(value: string): void {
  registerSecret(value);
  registerSecret(encodeURIComponent(value));
}

export interface PostgresEndpoint {
  host: string;
  port: number;
  user: string;
  database: string;
}

/** The DATABASE_URL the deploy engine hands to slots and migrations (through env vars only). */
export function buildDatabaseUrl(e: PostgresEndpoint, password: string): string {
  registerPassword(password);
  return `postgresql://${encodeURIComponent(e.user)}:${encodeURIComponent(password)}@${e.host}:${e.port}/${encodeURIComponent(e.database)}`;
}
