import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDirStateStore } from '../ports/state-store';
import { applyUpdate, metricsKeys, readMetricsState, recordDeployMetrics, renderMetrics } from './metrics';

const SHA1 = '1'.repeat(40);
const SHA2 = '2'.repeat(40);

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/**
 * A strict reader of the Prometheus text exposition format (0.0.4): every
 * line is HELP, TYPE or a sample; TYPE precedes its family's samples, a
 * family is contiguous, no label set repeats, the text ends with a newline.
 */
function parseExposition(text: string): { samples: Sample[]; types: Map<string, string>; help: Map<string, string> } {
  assert.ok(text === '' || text.endsWith('\n'), 'exposition must end with a newline');
  const name = '[a-zA-Z_:][a-zA-Z0-9_:]*';
  const help = new RegExp(`^# HELP (${name}) (.*)$`);
  const type = new RegExp(`^# TYPE (${name}) (counter|gauge|histogram|summary|untyped)$`);
  const sample = new RegExp(`^(${name})(?:\\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*",?)*)\\})? (-?[0-9]+(?:\\.[0-9]+)?(?:e[+-]?[0-9]+)?|NaN|[+-]Inf)$`);
  const label = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"/g;
  const out = { samples: [] as Sample[], types: new Map<string, string>(), help: new Map<string, string>() };
  const closed = new Set<string>();
  const seen = new Set<string>();
  let current = '';
  for (const line of text.split('\n').slice(0, -1)) {
    let m: RegExpMatchArray | null;
    if ((m = line.match(help))) {
      assert.ok(!out.help.has(m[1]!), `second HELP for ${m[1]}`);
      out.help.set(m[1]!, m[2]!);
    } else if ((m = line.match(type))) {
      assert.ok(!out.types.has(m[1]!), `second TYPE for ${m[1]}`);
      out.types.set(m[1]!, m[2]!);
    } else if ((m = line.match(sample))) {
      const n = m[1]!;
      assert.ok(out.types.has(n), `sample before TYPE: ${line}`);
      if (n !== current) {
        assert.ok(!closed.has(n), `family ${n} is not contiguous`);
        if (current) closed.add(current);
        current = n;
      }
      const labels = Object.fromEntries([...(m[2] ?? '').matchAll(label)].map((l) => [l[1]!, l[2]!]));
      const id = `${n}${JSON.stringify(Object.entries(labels).sort())}`;
      assert.ok(!seen.has(id), `duplicate series ${line}`);
      seen.add(id);
      out.samples.push({ name: n, labels, value: Number(m[3]) });
    } else {
      assert.fail(`not a valid exposition line: ${JSON.stringify(line)}`);
    }
  }
  return out;
}

function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

async function tempStore(t: TestContext) {
  const dir = await mkdtemp(join(tmpdir(), 'veza-metrics-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return { dir, store: createDirStateStore(dir) };
}

test('the parser used below rejects what node_exporter would reject', () => {
  assert.throws(() => parseExposition('veza_x 1\n'), /sample before TYPE/);
  assert.throws(() => parseExposition('# TYPE veza_x gauge\nveza_x{env=prod} 1\n'), /not a valid exposition line/);
  assert.throws(() => parseExposition('# TYPE veza_x gauge\nveza_x 1'), /end with a newline/);
  assert.throws(() => parseExposition('# TYPE veza_x gauge\nveza_x{a="1"} 1\nveza_x{a="1"} 2\n'), /duplicate series/);
});

test('a success renders every metric with HELP and TYPE, the colour one-hot', () => {
  const s = applyUpdate(undefined, 'prod', { outcome: 'success', time: new Date(1_777_456_800_123), activeColor: 'green', sha: SHA1 });
  const text = renderMetrics(s);
  const { samples, types, help } = parseExposition(text);
  assert.deepEqual([...types.entries()], [
    ['veza_deploy_active_color', 'gauge'],
    ['veza_deploy_release_info', 'gauge'],
    ['veza_deploy_last_success_timestamp_seconds', 'gauge'],
  ]);
  assert.equal(help.size, 3);
  assert.equal(value(samples, 'veza_deploy_active_color', { env: 'prod', color: 'green' }), 1);
  assert.equal(value(samples, 'veza_deploy_active_color', { env: 'prod', color: 'blue' }), 0);
  assert.equal(value(samples, 'veza_deploy_release_info', { env: 'prod', sha: SHA1 }), 1);
  assert.match(text, /^veza_deploy_last_success_timestamp_seconds\{env="prod"\} 1777456800\.123$/m);
  assert.equal(value(samples, 'veza_deploy_last_failure_timestamp_seconds'), undefined, 'no failure yet, so no failure series');
  assert.equal(renderMetrics({ schema: 1, env: 'prod' }), '');
});

test('a failure keeps the last success time and vice versa, and the release that still serves', async (t) => {
  const { dir, store } = await tempStore(t);
  await recordDeployMetrics(store, 'prod', { outcome: 'success', time: new Date('2026-04-29T10:00:00Z'), activeColor: 'blue', sha: SHA1 });
  await recordDeployMetrics(store, 'prod', { outcome: 'failure', time: new Date('2026-04-29T11:00:00Z') });
  let m = parseExposition(await readFile(join(dir, metricsKeys('prod').prom), 'utf8')).samples;
  assert.equal(value(m, 'veza_deploy_last_success_timestamp_seconds'), Date.parse('2026-04-29T10:00:00Z') / 1000);
  assert.equal(value(m, 'veza_deploy_last_failure_timestamp_seconds'), Date.parse('2026-04-29T11:00:00Z') / 1000);
  assert.equal(value(m, 'veza_deploy_active_color', { color: 'blue' }), 1);
  assert.equal(value(m, 'veza_deploy_release_info', { sha: SHA1 }), 1);

  await recordDeployMetrics(store, 'prod', { outcome: 'success', time: new Date('2026-04-29T12:00:00.5Z'), activeColor: 'green', sha: SHA2 });
  m = parseExposition(await readFile(join(dir, metricsKeys('prod').prom), 'utf8')).samples;
  assert.equal(value(m, 'veza_deploy_last_success_timestamp_seconds'), Date.parse('2026-04-29T12:00:00.5Z') / 1000);
  assert.equal(value(m, 'veza_deploy_last_failure_timestamp_seconds'), Date.parse('2026-04-29T11:00:00Z') / 1000);
  assert.equal(value(m, 'veza_deploy_active_color', { color: 'green' }), 1);
  assert.equal(m.filter((s) => s.name === 'veza_deploy_release_info').length, 1, 'only the serving release is reported');
  assert.deepEqual(await readMetricsState(store, 'prod'), {
    schema: 1, env: 'prod', activeColor: 'green', sha: SHA2,
    lastSuccessSeconds: Date.parse('2026-04-29T12:00:00.5Z') / 1000, lastFailureSeconds: Date.parse('2026-04-29T11:00:00Z') / 1000,
  });
});

test('each environment has its own file, so concurrent deploys of staging and prod never collide', async (t) => {
  const { dir, store } = await tempStore(t);
  await Promise.all([
    recordDeployMetrics(store, 'staging', { outcome: 'success', time: new Date(1000), activeColor: 'green', sha: SHA1 }),
    recordDeployMetrics(store, 'prod', { outcome: 'failure', time: new Date(2000) }),
  ]);
  assert.deepEqual((await readdir(join(dir, 'metrics'))).sort(), ['veza-deploy-prod.json', 'veza-deploy-prod.prom', 'veza-deploy-staging.json', 'veza-deploy-staging.prom']);
  const prod = parseExposition(await readFile(join(dir, metricsKeys('prod').prom), 'utf8')).samples;
  assert.deepEqual(prod.map((s) => s.name), ['veza_deploy_last_failure_timestamp_seconds']);
  const staging = parseExposition(await readFile(join(dir, metricsKeys('staging').prom), 'utf8')).samples;
  assert.ok(staging.every((s) => s.labels.env === 'staging'));
});

test('bad input and a damaged state file give one clear error', async (t) => {
  const { dir, store } = await tempStore(t);
  assert.throws(() => metricsKeys('../x'), /invalid environment name/);
  await assert.rejects(recordDeployMetrics(store, 'prod', { outcome: 'success', time: new Date(), activeColor: 'red' as 'blue', sha: SHA1 }), /invalid colour/);
  await assert.rejects(recordDeployMetrics(store, 'prod', { outcome: 'success', time: new Date(), activeColor: 'blue', sha: 'HEAD' }), /invalid version/);
  await store.write(metricsKeys('prod').state, '{"schema":1,"env":"staging"}');
  await assert.rejects(recordDeployMetrics(store, 'prod', { outcome: 'failure', time: new Date() }), /not a valid metrics state file/);
  await writeFile(join(dir, metricsKeys('prod').state), '{"sche');
  await assert.rejects(recordDeployMetrics(store, 'prod', { outcome: 'failure', time: new Date() }), /not a valid metrics state file/);
});
