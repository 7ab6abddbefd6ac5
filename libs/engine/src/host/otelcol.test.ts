import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { collectorValidate, receiverAddress, renderCollectorConfig } from './otelcol';

test('the collector listens where the endpoint points, sends traces through batch to the span file and the log, and keeps its own metrics off', () => {
  assert.equal(receiverAddress('http://10.99.0.1:4318'), '10.99.0.1:4318');
  assert.equal(receiverAddress('https://otel.example'), 'otel.example:443');
  assert.equal(receiverAddress('http://otel.example/prefix'), 'otel.example:80');
  const config = parse(renderCollectorConfig({ otlpEndpoint: 'http://10.99.0.1:4318', spanFile: '/var/lib/x/spans.jsonl' }));
  assert.deepEqual(config.receivers, { otlp: { protocols: { http: { endpoint: '10.99.0.1:4318' } } } });
  assert.deepEqual(config.service.pipelines, { traces: { receivers: ['otlp'], processors: ['batch'], exporters: ['spanfile', 'debug'] } });
  assert.equal(config.exporters.spanfile.path, '/var/lib/x/spans.jsonl');
  assert.equal(config.service.telemetry.metrics.level, 'none');
  assert.deepEqual(collectorValidate('/opt/veza-otelcol', '/etc/otelcol.yaml').argv, ['/opt/veza-otelcol', 'validate', '--config=/etc/otelcol.yaml']);
});
