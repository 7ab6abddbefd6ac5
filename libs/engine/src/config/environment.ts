import { z } from 'zod';
import { envNameSchema, PATTERNS } from './names';
import { parseNamedYaml } from './yaml-errors';

/**
 * An environment: `infra/environments/<name>.yaml`. Everything a deploy needs
 * to know about where and how; defaults are documented in README.md.
 */
const envVarName = z.string().regex(/^[A-Z][A-Z0-9_]*$/, 'must be an environment variable name like FORGEJO_REGISTRY_TOKEN');
const host = z.string().regex(PATTERNS.host, 'must be a lower-case DNS host name');
const octet = '(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
/** `127.a.b`, each octet 0-255: the slots, edge and data tier bind `<subnet>.<n>`, so a bad octet must fail here, not at a restart. */
const loopbackSubnet = z.string().regex(new RegExp(`^127\\.${octet}\\.${octet}$`), 'must be 127.<0-255>.<0-255>, e.g. 127.77.1');
const tcpPort = z.number().int().min(1, 'must be a TCP port (1-65535)').max(65535, 'must be a TCP port (1-65535)');
/** What createRegistry accepts, checked here so a bad URL is reported with its line. */
const registryUrl = z.string().regex(/^(file:.+|https?:\/\/[^\s/]+(\/\S*)?)$/, 'must be file:<dir> (e.g. file:.veza/registry) or an http(s) URL such as https://git.example/api/packages');

export const environmentSchema = z.strictObject({
  name: envNameSchema,
  driver: z.enum(['local', 'incus']),
  /** Container/slot name prefix: `veza-staging-` gives `veza-staging-api-blue`. */
  prefix: z.string().regex(/^[a-z][a-z0-9-]*-$/, 'must be lower-case and end with "-"'),
  network: z.string().regex(/^[a-z][a-z0-9-]{0,14}$/).default('net-veza'),
  publicHosts: z.array(host).min(1),
  /**
   * Host names the edge routes to the inactive colour only (its primaries,
   * never a backup twin): where a release deployed with --no-switch is seen
   * before `promote`. Never the live colour: with nothing up there, 503.
   */
  previewHosts: z.array(host).default([]),
  publicUrl: z.string().url(),
  /** Environments naming the same edge share one HAProxy and one config (`infra/edges/<edge>.yaml`). */
  edge: z.string().regex(PATTERNS.component),
  registry: z.strictObject({
    /** `file:` path (relative to the workspace) or an https base such as https://git.example/api/packages */
    url: registryUrl,
    owner: z.string().regex(PATTERNS.owner),
    /** Name of the environment variable holding the token; the token itself never lives in a file. */
    tokenEnv: envVarName.optional(),
  }),
  local: z.strictObject({
    /** First three octets of the loopback range this env's slots bind to, e.g. 127.77.1 */
    subnet: loopbackSubnet,
  }).optional(),
  incus: z.strictObject({
    project: z.string().default('default'),
    image: z.string().default('images:debian/13'),
    dnsSuffix: z.string().default('incus'),
    storagePool: z.string().optional(),
  }).optional(),
  data: z.strictObject({
    postgres: z.strictObject({
      database: z.string().regex(/^[a-z_][a-z0-9_]*$/).default('veza'),
      user: z.string().regex(/^[a-z_][a-z0-9_]*$/).default('veza'),
      passwordEnv: envVarName.optional(),
      port: tcpPort.default(5432),
    }).default({ database: 'veza', user: 'veza', port: 5432 }),
    redis: z.strictObject({ passwordEnv: envVarName.optional(), maxmemory: z.string().default('256mb') }).optional(),
    rabbitmq: z.strictObject({ vhost: z.string().default('/veza'), user: z.string().default('veza'), passwordEnv: envVarName.optional() }).optional(),
    minio: z.strictObject({ binary: z.string().optional(), bucket: z.string().optional(), passwordEnv: envVarName.optional() }).optional(),
  }).default({ postgres: { database: 'veza', user: 'veza', port: 5432 } }),
  retention: z.strictObject({
    history: z.number().int().min(1).max(100).default(5),
    snapshots: z.number().int().min(0).max(100).default(3),
  }).default({ history: 5, snapshots: 3 }),
  health: z.strictObject({
    timeoutMs: z.number().int().positive().default(60_000),
    intervalMs: z.number().int().positive().default(250),
  }).default({ timeoutMs: 60_000, intervalMs: 250 }),
  verify: z.strictObject({
    retries: z.number().int().min(1).default(10),
    intervalMs: z.number().int().positive().default(3_000),
  }).default({ retries: 10, intervalMs: 3_000 }),
  /**
   * The post-switch gate: for `seconds` after F, the edge's own counters for
   * the new colour (5xx answers, failed responses and connections) decide
   * whether it stays; past `maxErrorRatio` over at least `minRequests`
   * answers, the deploy switches back as on a failed verification. 0: off.
   */
  bake: z.strictObject({
    seconds: z.number().int().min(0).max(3_600).default(0),
    maxErrorRatio: z.number().min(0, 'must be a ratio from 0 to 1').max(1, 'must be a ratio from 0 to 1').default(0.05),
    minRequests: z.number().int().min(1).default(20),
    intervalMs: z.number().int().min(100).default(1_000),
  }).default({ seconds: 0, maxErrorRatio: 0.05, minRequests: 20, intervalMs: 1_000 }),
  /** infra/hooks/<event>: how long one may run before it counts as failed. */
  hooks: z.strictObject({ timeoutSeconds: z.number().int().min(1).max(3_600).default(120) }).default({ timeoutSeconds: 120 }),
}).superRefine((env, ctx) => {
  if (env.driver === 'local' && !env.local) ctx.addIssue({ code: 'custom', path: ['local'], message: 'the local driver needs local.subnet' });
});

export type Environment = z.infer<typeof environmentSchema>;

export const ENVIRONMENTS_DIR = 'infra/environments';

/** One environment file; `file` is its path relative to the workspace, for messages. */
export function parseEnvironment(file: string, text: string): Environment {
  return parseNamedYaml(file, text, environmentSchema, 'fix the environment file (see README, "Environments")');
}
