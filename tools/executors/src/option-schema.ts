import { z } from 'zod';
import { VezaError } from '@veza/engine/log/errors';

/**
 * An executor's options are declared once, in its `options.ts` (a zod object
 * with each option's type, description and default). Nx reads `schema.json`
 * (for --help, defaults and its own checks), which is generated from that
 * declaration by tools/scripts/executor-schemas.ts; a test fails when a
 * committed schema.json is not what the declaration generates.
 */
export type ExecutorSchema = z.ZodObject;

/** `--env`: checked by the engine, not by a pattern here (Nx's own pattern check crashes a batch process on a bad value). */
export function envOption(what = 'Environment name (infra/environments/<env>.yaml).') {
  return z.string().describe(`${what} Checked by the engine, which names the environments there are.`);
}

export function edgeOption(what: string) {
  return z.string().regex(/^[a-z][a-z0-9-]{0,40}$/).describe(what);
}

/**
 * What `infra-deploy:deploy` forwards to a dependency whose dependsOn says
 * `params: forward`: Nx refuses an option the schema does not list, so a
 * target that has no use for them still declares them.
 */
export function forwardedFromDeploy(dryRun: string) {
  return {
    dryRun: z.boolean().describe(`Forwarded from infra-deploy:deploy; ${dryRun}`).optional(),
    sha: z.string().describe("Forwarded from infra-deploy:deploy; the artifact's own version comes from its manifest.").optional(),
    json: z.boolean().describe('Forwarded from infra-deploy:deploy; ignored here.').optional(),
    switch: z.boolean().describe('Forwarded from infra-deploy:deploy (--no-switch); ignored here.').optional(),
    bake: z.number().describe('Forwarded from infra-deploy:deploy; ignored here.').optional(),
    autoPromote: z.number().describe('Forwarded from infra-deploy:deploy; ignored here.').optional(),
  };
}

/** The options with their defaults, as the declaration types them; Nx has already checked the same rules against schema.json. */
export function parseOptions<S extends ExecutorSchema>(schema: S, input: unknown, executor: string): z.output<S> {
  const parsed = schema.safeParse(input ?? {});
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(options)'}: ${i.message}`).join('; ');
  throw new VezaError(`invalid options for the ${executor} executor: ${problems}`,
    `pass only the options tools/executors/src/executors/${executor}/options.ts declares (npx nx run <project>:<target> --help lists them)`, 'INVALID_INPUT');
}

/** Nx's schema.json for a declaration: JSON Schema with Nx's `$schema` and `version: 2`, in a stable key order. */
export function schemaJson(schema: ExecutorSchema): string {
  const json = z.toJSONSchema(schema, { io: 'input' }) as {
    title?: string;
    description?: string;
    properties: Record<string, Record<string, unknown>>;
    required?: string[];
    additionalProperties: unknown;
  };
  const order = ['type', 'description', 'pattern', 'enum', 'default'];
  const properties = Object.fromEntries(Object.entries(json.properties).map(([name, p]) => {
    const unknownKey = Object.keys(p).find((k) => !order.includes(k));
    // A new zod feature would otherwise reach Nx unnoticed, or be dropped here without a word.
    if (unknownKey) throw new Error(`option ${name}: schemaJson does not map JSON Schema's "${unknownKey}"; extend its key list in tools/executors/src/option-schema.ts`);
    return [name, Object.fromEntries(order.filter((k) => k in p).map((k) => [k, p[k]]))];
  }));
  return JSON.stringify({
    $schema: 'https://json-schema.org/schema',
    version: 2,
    title: json.title,
    description: json.description,
    type: 'object',
    properties,
    // A loose object (data-provision: deploy forwards options it ignores) comes out as `{}`, which Nx reads as "anything".
    additionalProperties: json.additionalProperties !== false,
    required: json.required ?? [],
  }, null, 2) + '\n';
}
