import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isVezaError } from '../log/errors';
import { parseEnvironment } from './environment';

const FILE = 'infra/environments/staging.yaml';
const BASE = ['name: staging', 'driver: incus', 'prefix: veza-staging-', 'publicHosts: [staging.example]', 'publicUrl: https://staging.example', 'edge: e1', 'registry: { url: "file:x", owner: o }'];

test('observability.otlpEndpoint: an http(s) base URL is taken, anything else refused with its file:line', () => {
  for (const ok of ['http://10.99.0.1:4318', 'https://otel.staging.example', 'http://[::1]:4318/otlp']) {
    assert.equal(parseEnvironment(FILE, [...BASE, 'observability:', `  otlpEndpoint: "${ok}"`, ''].join('\n')).observability?.otlpEndpoint, ok);
  }
  assert.equal(parseEnvironment(FILE, BASE.join('\n')).observability, undefined, 'absent: no tracing');
  for (const bad of ['10.99.0.1:4318', 'grpc://10.99.0.1:4317', 'http://u:p@10.99.0.1:4318', 'http://10.99.0.1:4318/?x=1', 'not a url']) {
    assert.throws(() => parseEnvironment(FILE, [...BASE, 'observability:', `  otlpEndpoint: "${bad}"`, ''].join('\n')), (e: unknown) =>
      isVezaError(e) && e.code === 'BAD_CONFIG'
      && /^infra\/environments\/staging\.yaml:9: observability\.otlpEndpoint: must be the collector's OTLP\/HTTP base URL, e\.g\. http:\/\/10\.99\.0\.1:4318/.test(e.message)
      && /see README, "Environments"/.test(e.hint), bad);
  }
  assert.throws(() => parseEnvironment(FILE, [...BASE, 'observability: { endpoint: "http://10.99.0.1:4318" }', ''].join('\n')), /staging\.yaml:8: observability\.endpoint: unknown key/);
});
