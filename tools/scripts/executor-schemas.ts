/**
 * Writes every executor's schema.json (what Nx reads) from the options.ts
 * beside it, where its options are declared once. Run it after changing an
 * option; tools/executors/src/schemas.test.ts fails until you have.
 *
 *   node -r @swc-node/register tools/scripts/executor-schemas.ts
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { schemaJson, type ExecutorSchema } from '../executors/src/option-schema';

const WORKSPACE_ROOT = join(__dirname, '..', '..');
const EXECUTORS_DIR = join(WORKSPACE_ROOT, 'tools/executors');

export interface GeneratedSchema {
  executor: string;
  /** schema.json, relative to the workspace. */
  path: string;
  text: string;
}

/** One per executor executors.json registers, from the options.ts beside the schema.json it names. */
export function generatedSchemas(): GeneratedSchema[] {
  const { executors } = JSON.parse(readFileSync(join(EXECUTORS_DIR, 'executors.json'), 'utf8')) as { executors: Record<string, { schema: string }> };
  return Object.entries(executors).map(([executor, e]) => {
    const json = join(EXECUTORS_DIR, e.schema);
    const declaration = join(dirname(json), 'options.ts');
    const { schema } = require(declaration) as { schema?: ExecutorSchema };
    if (!schema) throw new Error(`${relative(WORKSPACE_ROOT, declaration)} exports no \`schema\`; declare the ${executor} executor's options there as \`export const schema = z.strictObject({...})\``);
    return { executor, path: relative(WORKSPACE_ROOT, json), text: schemaJson(schema) };
  });
}

if (require.main === module) {
  for (const s of generatedSchemas()) {
    const target = join(WORKSPACE_ROOT, s.path);
    const unchanged = readFileSync(target, 'utf8') === s.text;
    if (!unchanged) writeFileSync(target, s.text);
    console.log(`${s.path}: ${unchanged ? 'unchanged' : 'written'}`);
  }
}
