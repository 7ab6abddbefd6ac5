import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { isVezaError } from '@veza/engine/log/errors';
import { generatedSchemas } from '../../scripts/executor-schemas';
import { forwardedFromDeploy, parseOptions, schemaJson } from './option-schema';
import { schema as cleanupSchema } from './executors/cleanup/options';
import { schema as deploySchema } from './executors/deploy/options';

const ROOT = join(__dirname, '..', '..', '..');
const schemas = generatedSchemas();

test('every executor registered in executors.json has a declaration, and its committed schema.json is what that declaration generates', () => {
  assert.ok(schemas.length >= 14, schemas.map((s) => s.executor).join(', '));
  for (const s of schemas) {
    assert.equal(readFileSync(join(ROOT, s.path), 'utf8'), s.text, `${s.path} differs from its options.ts; regenerate with: node -r @swc-node/register tools/scripts/executor-schemas.ts`);
  }
});

test('every executor and every option says what it is, for nx run --help', () => {
  for (const s of schemas) {
    const json = JSON.parse(s.text) as { title?: string; description?: string; properties: Record<string, { description?: string }> };
    assert.ok(json.title && json.description, `${s.executor}: .meta({ title, description }) on its schema`);
    for (const [name, p] of Object.entries(json.properties)) assert.ok(p.description, `${s.executor} --${name} has no .describe()`);
  }
});

test('parsed options carry the declared defaults, and bad ones are refused with the option named and what to do', () => {
  assert.deepEqual(parseOptions(cleanupSchema, { color: 'green' }, 'cleanup'), { env: 'local', color: 'green', dryRun: false, json: false });
  assert.throws(() => parseOptions(cleanupSchema, { color: 'red', force: true }, 'cleanup'), (e: unknown) =>
    isVezaError(e) && e.code === 'INVALID_INPUT'
    && /^invalid options for the cleanup executor: color: .*"blue"\|"green".*; \(options\): Unrecognized key: "force"$/.test(e.message)
    && e.hint.includes('tools/executors/src/executors/cleanup/options.ts'));
});

test('a zod rule schema.json cannot carry yet is refused, not dropped from what Nx checks', () => {
  assert.throws(() => schemaJson(z.strictObject({ retries: z.number().min(1).describe('Tries.') }).meta({ title: 't', description: 'd' })),
    /option retries: schemaJson does not map JSON Schema's "minimum"/);
});

test('every option of infra-deploy:deploy is declared by the targets Nx forwards it to, so `deploy --no-switch` or `--bake=N` is not refused by a dependency', () => {
  // Nx refuses an option a forwarded-to schema does not list, and fails the whole graph before the deploy runs.
  const forwarded = Object.keys(forwardedFromDeploy(''));
  const deployOptions = Object.keys(deploySchema.shape).filter((k) => k !== 'env');
  assert.deepEqual(deployOptions.filter((k) => !forwarded.includes(k)), []);
  for (const s of schemas.filter((x) => /edge-(render|validate)/.test(x.executor))) {
    const declared = Object.keys((JSON.parse(s.text) as { properties: object }).properties);
    assert.deepEqual([...deployOptions, 'env'].filter((k) => !declared.includes(k)), [], s.executor);
  }
});
