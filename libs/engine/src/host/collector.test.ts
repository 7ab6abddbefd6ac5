import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sha256 } from '../data/incus/services';
import { IncusClient } from '../hosts/incus/client';
import { scriptedRunner } from '../hosts/incus/testing/scripted-runner';
import { formatArgv } from '../ports/process';
import { COLLECTOR_UNIT, collectorPlacement, planCollector, type CollectorState, type CollectorWant } from './collector';

const client = new IncusClient(scriptedRunner(() => ({})), 'veza-prod');
const settings = { dnsSuffix: 'incus' };
const placement = collectorPlacement({ prefix: 'veza-prod-', observability: { otlpEndpoint: 'http://veza-prod-otelcol.incus:4318' } }, settings)!;
const want: CollectorWant = { placement, binary: '/cache/veza-otelcol', binarySha256: 'b'.repeat(64), config: 'receivers: {}\n', image: 'images:debian/13', network: 'net-veza', pool: 'default' };
const inPlace: CollectorState = {
  instance: { name: 'veza-prod-otelcol', status: 'Running', config: {}, devices: {}, addresses: [] } as unknown as CollectorState['instance'],
  facts: { binary: 'b'.repeat(64), config: sha256(want.config), unit: sha256(COLLECTOR_UNIT), enabled: 'enabled', active: 'active' },
};
/** Each command as "<incus subcommand> … <what runs inside>", enough to read the plan's order. */
const lines = (cs: { argv: string[] }[]) => cs.map((c) => formatArgv(c.argv));

test('the collector is placed only when the endpoint names the environment\'s collector container on the Incus DNS', () => {
  assert.deepEqual(placement, { container: 'veza-prod-otelcol', listen: '0.0.0.0:4318', port: 4318 });
  assert.equal(collectorPlacement({ prefix: 'veza-prod-', observability: { otlpEndpoint: 'http://10.99.0.1:4318' } }, settings), undefined, 'an address of a collector run elsewhere');
  assert.equal(collectorPlacement({ prefix: 'veza-prod-', observability: { otlpEndpoint: 'http://veza-staging-otelcol.incus:4318' } }, settings), undefined, 'another environment\'s collector');
  assert.equal(collectorPlacement({ prefix: 'veza-prod-' }, settings), undefined, 'no endpoint, no collector');
  assert.equal(collectorPlacement({ prefix: 'veza-prod-', observability: { otlpEndpoint: 'https://veza-prod-otelcol.incus' } }, settings)!.port, 443);
});

test('an absent collector: launched, booted, binary, config and unit shipped, enabled and started, then checked', () => {
  const plan = planCollector(client, want, { facts: {} });
  const got = lines(plan.commands);
  assert.equal(got.length, 8, got.join('\n'));
  assert.match(got[0]!, /^incus launch images:debian\/13 veza-prod-otelcol --quiet --profile veza-data --network net-veza --storage default --project veza-prod$/);
  assert.match(got[1]!, /exec veza-prod-otelcol .* -- sh -c .*is-system-running/s);
  assert.match(got[2]!, /^incus file push \/cache\/veza-otelcol veza-prod-otelcol\/usr\/local\/bin\/veza-otelcol .*--mode 0755/);
  assert.match(got[3]!, /-- sh -c .* \/etc\/veza-otelcol\/config\.yaml root:root 0644$/s);
  assert.match(got[4]!, /-- sh -c .* \/etc\/systemd\/system\/veza-otelcol\.service root:root 0644$/s);
  assert.deepEqual(got.slice(5).map((l) => l.split(' -- ')[1]), ['systemctl daemon-reload', 'systemctl enable --quiet veza-otelcol', 'systemctl restart veza-otelcol']);
  assert.equal(plan.commands[3]!.input, want.config, 'the config travels on stdin');
  assert.match(lines(plan.checks)[0]!, /-- bash -c .*\/dev\/tcp\/127\.0\.0\.1.* veza 4318$/s);
});

test('a collector in place plans nothing; a changed config is rewritten and the collector restarted; a stopped one is started', () => {
  assert.deepEqual(planCollector(client, want, inPlace).commands, []);
  const changed = lines(planCollector(client, { ...want, config: 'receivers: { otlp: {} }\n' }, inPlace).commands);
  assert.equal(changed.length, 3, changed.join('\n'));
  assert.match(changed[0]!, /config\.yaml/);
  assert.deepEqual(changed.slice(1).map((l) => l.split(' -- ')[1]), ['systemctl daemon-reload', 'systemctl restart veza-otelcol']);
  const newBinary = lines(planCollector(client, { ...want, binarySha256: 'c'.repeat(64) }, inPlace).commands);
  assert.match(newBinary[0]!, /^incus file push /);
  const down = lines(planCollector(client, want, { ...inPlace, facts: { ...inPlace.facts, active: 'failed' } }).commands);
  assert.deepEqual(down.map((l) => l.split(' -- ')[1]), ['systemctl restart veza-otelcol']);
});
