import { randomBytes } from 'node:crypto';
import { promises as fs, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ENVIRONMENTS_DIR, SHARED_ENVS, type Environment } from '../config/environment';
import { locateKey } from '../config/yaml-errors';
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
  return resolveServicePassword(env, { service: 'postgres', varName: env.data.postgres.passwordEnv, owner: `the ${env.data.postgres.user} role` }, passwordFile, opts);
}

export interface PasswordSource {
  service: 'postgres' | 'redis' | 'rabbitmq' | 'minio';
  /** The variable the environment file names (`data.<service>.passwordEnv`). */
  varName: string | undefined;
  /** Whose password it is, for messages. */
  owner: string;
  /** `file:line` of the passwordEnv key, when known, so a refused value points at its declaration. */
  where?: string;
}

/**
 * A service password from its variable, or — on a local environment that
 * names none — generated once and kept in a 0600 file. staging and prod
 * refuse an empty or placeholder value (seed 001's vault assertion).
 */
export async function resolveServicePassword(env: Environment, src: PasswordSource, passwordFile: string, opts: { generate: boolean }): Promise<ResolvedPassword | undefined> {
  if (src.varName) {
    const value = process.env[src.varName];
    if (!value) {
      throw new VezaError(`${src.where ? `${src.where}: ` : ''}${src.varName} is not set (the password of ${src.owner} of ${env.name})`, `export ${src.varName}=… before running, or keep it in your CI secrets`, 'MISSING_SECRET');
    }
    if (SHARED_ENVS.has(env.name) && isPlaceholder(value)) {
      throw new VezaError(`${src.where ? `${src.where}: ` : ''}${src.varName} holds a placeholder (${src.owner} of ${env.name})`, `put the real ${src.service} password from the vault in ${src.varName}`, 'MISSING_SECRET');
    }
    return remember({ value, source: 'env' });
  }
  if (env.driver !== 'local') {
    throw new VezaError(`environment ${env.name} names no data.${src.service}.passwordEnv`, `set data.${src.service}.passwordEnv in its environment file; only local environments generate a password`, 'BAD_CONFIG');
  }
  try {
    const value = (await fs.readFile(passwordFile, 'utf8')).trim();
    if (value) return remember({ value, source: 'file' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  return opts.generate ? remember({ value: randomBytes(24).toString('base64url'), source: 'generated' }) : undefined;
}

/** Values that are someone's reminder to set a password, not a password (`changeme-DEV-ONLY` is the seed's). */
export function isPlaceholder(value: string): boolean {
  const v = value.trim().toLowerCase();
  return v.length < 12 || /change.?me|placeholder|todo|dev.?only|^(x+|password|secret|veza)$/.test(v);
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

/** Where `service`'s password comes from, with the `file:line` of its passwordEnv key in the environment file (when that file is in the workspace). */
export function servicePasswordSource(env: Environment, service: 'redis' | 'rabbitmq' | 'minio', workspaceRoot: string): PasswordSource {
  const file = `${ENVIRONMENTS_DIR}/${env.name}.yaml`;
  let where: string | undefined;
  try {
    where = locateKey(file, readFileSync(join(workspaceRoot, file), 'utf8'), ['data', service, 'passwordEnv']);
  } catch {
    // Built in code (tests) rather than loaded from a file: the message names the variable alone.
  }
  return { service, varName: env.data[service]?.passwordEnv, owner: `${service}`, where };
}
