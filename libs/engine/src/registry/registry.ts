import { resolve } from 'node:path';
import { VezaError } from '../log/errors';
import { registerSecret } from '../log/redact';
import type { Logger } from '../log/logger';
import { ENVIRONMENTS_DIR, type Environment } from '../config/environment';
import type { Registry } from './port';
import { createLocalRegistry } from './local-registry';
import { createForgejoRegistry } from './forgejo-registry';
import { DEFAULT_RETRY, type RetryPolicy } from './retry';

export interface RegistryOptions {
  /** Where the token variable is looked up; process.env unless a test injects its own. */
  processEnv?: NodeJS.ProcessEnv;
  retry?: Partial<RetryPolicy>;
  log?: Logger;
}

/**
 * Picks the registry an environment names: `file:<dir>` (relative to the
 * workspace) for a local directory, `http(s)://…/api/packages` for Forgejo.
 * The token is read and checked here, before any request can be made.
 */
export function createRegistry(env: Environment, workspaceRoot: string, opts: RegistryOptions = {}): Registry {
  const url = env.registry.url;
  const envFile = `${ENVIRONMENTS_DIR}/${env.name}.yaml`;
  if (url.startsWith('file:')) {
    const dir = url.slice('file:'.length);
    if (!dir) throw new VezaError(`${envFile}: registry.url "file:" names no directory`, 'use file:<dir>, e.g. file:.veza/registry', 'BAD_CONFIG');
    return createLocalRegistry(resolve(workspaceRoot, dir));
  }
  if (/^https?:\/\//.test(url)) {
    const tokenEnv = env.registry.tokenEnv;
    if (!tokenEnv) {
      throw new VezaError(`${envFile}: registry.tokenEnv is not set, but ${url} needs a token`, 'add registry.tokenEnv with the NAME of the variable that holds the token, e.g. FORGEJO_REGISTRY_TOKEN', 'BAD_CONFIG');
    }
    const token = (opts.processEnv ?? process.env)[tokenEnv];
    if (!token) {
      throw new VezaError(`environment variable ${tokenEnv} is not set (the registry token for ${env.name})`, `export ${tokenEnv} with a Forgejo access token that has the write:package scope, then re-run`, 'MISSING_SECRET');
    }
    registerSecret(token);
    // Anything outside printable ASCII would be mangled in a header; a stray newline from `cat` is the usual culprit.
    if (!/^[\x21-\x7e]+$/.test(token)) {
      throw new VezaError(`environment variable ${tokenEnv} holds whitespace or control characters`, `set ${tokenEnv} to the bare token (no trailing newline)`, 'BAD_SECRET');
    }
    return createForgejoRegistry({
      baseUrl: url,
      token,
      tokenEnv,
      envFile,
      retry: { ...DEFAULT_RETRY, ...opts.retry },
      log: opts.log,
    });
  }
  throw new VezaError(`${envFile}: registry.url ${JSON.stringify(url)} is neither file:<dir> nor an http(s) URL`, 'use file:.veza/registry for a local directory, or https://<forgejo>/api/packages', 'BAD_CONFIG');
}
