import type { RuntimeDeclaration } from '../config/component';
import type { Environment } from '../config/environment';
import type { Color } from '../config/names';
import { localAddress, slotEndpoint, slotName, type SlotRole } from '../hosts/naming';
import type { SlotSpec } from '../hosts/port';
import { VezaError } from '../log/errors';
import { registerSecret } from '../log/redact';
import type { FetchedArtifact } from './artifacts';
import type { SlotTarget } from './probe';

/**
 * What a slot is given: the runtime contract every component reads
 * (VEZA_RELEASE_SHA, VEZA_COLOR, VEZA_ENV; PORT and HOST come from the bind
 * address through the driver) plus the variables its component.json
 * declares, from the pipeline (DATABASE_URL and Redis's, from the data tier), the
 * environment file (OTEL_EXPORTER_OTLP_ENDPOINT) or else the deployer's own environment (a CI secret). Values reach the slot through
 * its 0600 env file, never argv.
 */
export const PIPELINE_VARS = ['DATABASE_URL', 'REDIS_URL', 'REDIS_SENTINEL_ADDRS', 'REDIS_SENTINEL_MASTER_NAME', 'REDIS_SENTINEL_PASSWORD', 'AMQP_URL', 'S3_ENDPOINT', 'S3_BUCKET', 'S3_ACCESS_KEY', 'S3_SECRET_KEY'] as const;
export type PipelineVars = Partial<Record<(typeof PIPELINE_VARS)[number], string>>;

const RESERVED = new Set(['PORT', 'HOST', 'VEZA_RELEASE_SHA', 'VEZA_COLOR', 'VEZA_ENV']);

/** Checked before the first side effect: a component needing a variable nobody provides fails the deploy up front. */
export function checkDeclaredVars(components: RuntimeDeclaration[], processEnv: NodeJS.ProcessEnv): void {
  for (const c of components) {
    for (const name of [...c.run.env.required, ...c.run.env.optional]) {
      if (RESERVED.has(name)) {
        throw new VezaError(`apps/${c.name}/component.json declares ${name}, which the pipeline sets itself`, `remove ${name} from run.env; every slot gets PORT, HOST, VEZA_RELEASE_SHA, VEZA_COLOR and VEZA_ENV`, 'BAD_COMPONENT');
      }
    }
    for (const name of c.run.env.required) {
      if (!(PIPELINE_VARS as readonly string[]).includes(name) && !processEnv[name]) {
        throw new VezaError(`${c.name} requires ${name} (apps/${c.name}/component.json run.env.required), and nothing provides it`,
          `export ${name} before deploying (the pipeline itself provides only ${PIPELINE_VARS.join(', ')})`, 'MISSING_VAR');
      }
    }
  }
}

/** Whether any component reads a variable only the data tier can give, so the deploy needs its URL. */
export function needsPipelineVars(components: RuntimeDeclaration[]): boolean {
  return components.some((c) => c.migrations !== undefined || [...c.run.env.required, ...c.run.env.optional].some((v) => (PIPELINE_VARS as readonly string[]).includes(v)));
}

/**
 * Variables the environment file sets, for the components that declare
 * them: not secrets, and they win over the deployer's shell so every slot
 * of an environment sends its spans to the same collector.
 */
export function environmentVars(env: Environment): Record<string, string> {
  const endpoint = env.observability?.otlpEndpoint;
  return endpoint ? { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint } : {};
}

export function slotVars(env: Environment, c: RuntimeDeclaration, sha: string, role: SlotRole, pipeline: PipelineVars, processEnv: NodeJS.ProcessEnv): Record<string, string> {
  const vars: Record<string, string> = { VEZA_RELEASE_SHA: sha, VEZA_ENV: env.name };
  if (role !== 'tools') vars.VEZA_COLOR = role;
  const fromFile = environmentVars(env);
  for (const name of [...c.run.env.required, ...c.run.env.optional]) {
    const value = (pipeline as Record<string, string | undefined>)[name] ?? fromFile[name] ?? processEnv[name];
    if (value !== undefined && value !== '') {
      if (!(name in pipeline) && !(name in fromFile)) registerSecret(value);
      vars[name] = value;
    } else if (c.run.env.required.includes(name)) {
      throw new VezaError(`${c.name} requires ${name}, but it is empty`, `check the data tier (npx nx run infra-data:provision --env=${env.name}) or export ${name}`, 'MISSING_VAR');
    }
  }
  // Migrations run in the tools slot and need the database even when the server itself does not declare it.
  if (role === 'tools' && c.migrations && pipeline.DATABASE_URL) vars.DATABASE_URL = pipeline.DATABASE_URL;
  return vars;
}

export function slotSpec(env: Environment, c: RuntimeDeclaration, role: SlotRole, sha: string, artifact: FetchedArtifact, vars: Record<string, string>): SlotSpec {
  return {
    name: slotName(env, c.name, role),
    env: env.name,
    component: c.name,
    role,
    release: sha,
    artifactPath: artifact.path,
    artifactSha256: artifact.sha256,
    command: c.run.command,
    needs: c.run.needs,
    bind: { host: env.driver === 'local' ? localAddress(env, role) : '0.0.0.0', port: c.run.port },
    vars,
  };
}

export function healthTarget(env: Environment, c: RuntimeDeclaration, color: Color): SlotTarget {
  const { host, port } = slotEndpoint(env, c, color);
  return { component: c.name, slot: slotName(env, c.name, color), host, port, path: c.run.health };
}
