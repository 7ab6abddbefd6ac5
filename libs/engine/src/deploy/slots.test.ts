import { test } from 'node:test';
import assert from 'node:assert/strict';
import { componentSchema, type ComponentDeclaration } from '../config/component';
import { environmentSchema } from '../config/environment';
import { redact } from '../log/redact';
import { checkDeclaredVars, healthTarget, needsPipelineVars, slotSpec, slotVars } from './slots';

const env = environmentSchema.parse({
  name: 'staging', driver: 'local', prefix: 'veza-staging-', publicHosts: ['staging.localhost'], publicUrl: 'http://staging.localhost:18080',
  edge: 'local-edge', registry: { url: 'file:.veza/registry', owner: 'veza' }, local: { subnet: '127.77.9' },
});
const SHA = 'ab'.repeat(20);

function component(over: object): ComponentDeclaration {
  return componentSchema.parse({ name: 'veza-api', build: { preset: 'node' }, run: { command: ['node', 'server.js'], port: 8080, health: '/health' }, ...over });
}

test('every declared variable must have a provider before anything runs', () => {
  const api = component({ run: { command: ['node', 'server.js'], port: 8080, health: '/health', env: { required: ['DATABASE_URL', 'API_SIGNING_KEY'] } } });
  assert.throws(() => checkDeclaredVars([api], {}), (e: Error & { code?: string; hint?: string }) =>
    e.code === 'MISSING_VAR' && /veza-api requires API_SIGNING_KEY/.test(e.message) && /export API_SIGNING_KEY/.test(e.hint ?? ''));
  assert.doesNotThrow(() => checkDeclaredVars([api], { API_SIGNING_KEY: 'k' }), 'DATABASE_URL comes from the data tier');
  const clash = component({ run: { command: ['node', 'server.js'], port: 8080, health: '/health', env: { required: ['VEZA_COLOR'] } } });
  assert.throws(() => checkDeclaredVars([clash], {}), /declares VEZA_COLOR, which the pipeline sets itself/);
});

test('a slot gets the runtime contract and its declared variables; the tools slot gets the database for migrations', () => {
  const api = component({
    run: { command: ['node', 'server.js'], port: 8080, health: '/health', env: { required: ['API_SIGNING_KEY'], optional: ['LOG_LEVEL', 'UNSET'] } },
    migrations: { command: ['node', 'migrate_tool.js', '--up'] },
  });
  const deployer = { API_SIGNING_KEY: 'signing-key-31337', LOG_LEVEL: 'debug' };
  const green = slotVars(env, api, SHA, 'green', { DATABASE_URL: 'postgres://x' }, deployer);
  assert.deepEqual(green, { VEZA_RELEASE_SHA: SHA, VEZA_ENV: 'staging', VEZA_COLOR: 'green', API_SIGNING_KEY: 'signing-key-31337', LOG_LEVEL: 'debug' });
  assert.equal(redact('key=signing-key-31337'), 'key=***', 'a value from the deployer\'s environment is treated as a secret');
  const tools = slotVars(env, api, SHA, 'tools', { DATABASE_URL: 'postgres://x' }, deployer);
  assert.equal(tools.DATABASE_URL, 'postgres://x');
  assert.equal(tools.VEZA_COLOR, undefined);
  assert.ok(needsPipelineVars([api]));
  assert.ok(!needsPipelineVars([component({})]));
});

test('slots bind their colour\'s loopback address on the component\'s port', () => {
  const api = component({});
  const spec = slotSpec(env, api, 'blue', SHA, { path: '/cache/x.tar.zst', sha256: 'c'.repeat(64) }, {});
  assert.deepEqual([spec.name, spec.bind, spec.release, spec.command], ['veza-staging-api-blue', { host: '127.77.9.10', port: 8080 }, SHA, ['node', 'server.js']]);
  assert.deepEqual(slotSpec(env, api, 'tools', SHA, { path: '/x', sha256: 'c'.repeat(64) }, {}).bind, { host: '127.77.9.12', port: 8080 });
  assert.deepEqual(healthTarget(env, api, 'green'), { component: 'veza-api', slot: 'veza-staging-api-green', host: '127.77.9.11', port: 8080, path: '/health' });
});

test('observability.otlpEndpoint reaches the slots that declare OTEL_EXPORTER_OTLP_ENDPOINT, over the deployer\'s shell, and is no secret', () => {
  const api = component({ run: { command: ['node', 'server.js'], port: 8080, health: '/health', env: { optional: ['OTEL_EXPORTER_OTLP_ENDPOINT'] } } });
  const traced = environmentSchema.parse({ ...env, observability: { otlpEndpoint: 'http://127.77.9.50:4318' } });
  const shell = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://elsewhere.invalid:4318' };
  assert.equal(slotVars(traced, api, SHA, 'blue', {}, shell).OTEL_EXPORTER_OTLP_ENDPOINT, 'http://127.77.9.50:4318');
  assert.equal(redact('to http://127.77.9.50:4318'), 'to http://127.77.9.50:4318');
  assert.equal(slotVars(env, api, SHA, 'blue', {}, shell).OTEL_EXPORTER_OTLP_ENDPOINT, 'http://elsewhere.invalid:4318', 'without the setting, the deployer\'s variable as before');
  assert.equal(slotVars(env, api, SHA, 'blue', {}, {}).OTEL_EXPORTER_OTLP_ENDPOINT, undefined, 'neither: no tracing');
  assert.equal(slotVars(traced, component({}), SHA, 'blue', {}, {}).OTEL_EXPORTER_OTLP_ENDPOINT, undefined, 'a component that does not declare it does not get it');
});
