import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { goCaches, goSources, planGo } from '../build/presets/go';
import { createProcessRunner } from '../ports/process';
import { httpGet } from '../util/http';
import { writeObservability } from './bootstrap';
import { SPAN_FILE } from './collector';
import { collectorRun, collectorValidate, renderCollectorConfig } from './otelcol';

/**
 * Tracing end to end with real processes (seed 84e92a75e2): veza-otelcol,
 * the collector built from its Go modules by tools/scripts/otelcol-build.sh
 * (cached by version), receives what the real veza-api binary — built by
 * the go preset's own build command — exports when OTEL_EXPORTER_OTLP_ENDPOINT
 * names it. This helper's loopback addresses: 127.79.85.x.
 */
const ROOT = resolve(__dirname, '../../../..');
const COLLECTOR = { host: '127.79.85.1', port: 24318 };
const API = { host: '127.79.85.2', port: 28080 };
const ENDPOINT = `http://${COLLECTOR.host}:${COLLECTOR.port}`;
const SHA = 'c0ffee'.padEnd(40, '0');

const collectorBinary = execFileSync('bash', [join(ROOT, 'tools/scripts/otelcol-build.sh')], { encoding: 'utf8' }).trim();

async function tempDir(t: TestContext, prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A child whose stderr is kept for messages, stopped (and awaited) when the test ends. */
function start(t: TestContext, argv: string[], env: Record<string, string>): { child: ChildProcess; output: () => string } {
  const child = spawn(argv[0]!, argv.slice(1), { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  });
  return { child, output: () => output };
}

/** Bounded: 100 tries, 100 ms apart. */
async function until<T>(what: string, probe: () => Promise<T | undefined>, detail: () => string): Promise<T> {
  for (let i = 0; i < 100; i++) {
    const got = await probe().catch(() => undefined);
    if (got !== undefined) return got;
    await sleep(100);
  }
  assert.fail(`${what}: ${detail()}`);
}

interface SpanLine {
  resourceSpans: { resource: { attributes: KeyValue[] }; scopeSpans: { spans: { traceId: string; name: string; attributes?: KeyValue[] }[] }[] }[];
}
interface KeyValue { key: string; value: { stringValue?: string; intValue?: string } }
const attr = (kvs: KeyValue[] | undefined, key: string) => kvs?.find((a) => a.key === key)?.value;

test('the collector config rendered for an environment passes the collector\'s own validate; a broken one does not', async (t) => {
  const root = await tempDir(t, 'veza-otelcol-ws-');
  await cp(join(ROOT, 'infra/observability'), join(root, 'infra/observability'), { recursive: true });
  const run = createProcessRunner();
  const files = await writeObservability(root, { name: 'otel', publicUrl: 'https://veza.fr', observability: { otlpEndpoint: 'http://10.99.0.1:4318' } }, run);
  const config = files.find((f) => f.endsWith('otelcol.yaml'));
  assert.ok(config, `no otelcol.yaml among ${files.join(', ')}`);
  const text = await readFile(config, 'utf8');
  assert.match(text, /endpoint: 10\.99\.0\.1:4318/);
  assert.ok(text.includes(`path: ${SPAN_FILE}`));
  assert.equal((await run.run(collectorValidate(collectorBinary, config))).exitCode, 0);

  await writeFile(join(root, 'broken.yaml'), text.replace('timeout: 1s', 'timeout: one second'));
  const broken = await run.run(collectorValidate(collectorBinary, join(root, 'broken.yaml')), { check: false });
  assert.notEqual(broken.exitCode, 0);
  assert.match(broken.stderr, /batch.*timeout|invalid duration/);

  const without = await writeObservability(root, { name: 'otel', publicUrl: 'https://veza.fr' }, run);
  assert.ok(!without.some((f) => f.endsWith('otelcol.yaml')), 'no endpoint, no collector config');
  await assert.rejects(readFile(config), { code: 'ENOENT' }, 'the one written before is removed');
});

test('veza-api with OTEL_EXPORTER_OTLP_ENDPOINT: the collector receives one server span per request path, with service.name veza-api', { timeout: 600_000 }, async (t) => {
  const dir = await tempDir(t, 'veza-otelcol-');
  const spanFile = join(dir, 'spans.jsonl');
  const configFile = join(dir, 'otelcol.yaml');
  await writeFile(configFile, renderCollectorConfig({ otlpEndpoint: ENDPOINT, spanFile }));

  // The binary as the graph's build makes it: the go preset's own `go build` step for veza-api.
  const apiRoot = join(dir, 'root');
  await mkdir(apiRoot);
  const build = planGo({
    ...goCaches(process.env), sources: goSources(process.env), go: 'go', component: 'veza-api',
    workspaceRoot: ROOT, projectRoot: join(ROOT, 'apps/veza-api'), rootDir: apiRoot, binaries: ['veza-api'], version: SHA,
  }).find((s) => s.kind === 'run' && s.command.description === 'go build of veza-api');
  assert.ok(build?.kind === 'run');
  const run = createProcessRunner();
  await run.run({ ...build.command, timeoutMs: 540_000 });

  const collector = start(t, collectorRun(collectorBinary, configFile).argv, {});
  await until('the collector listens', async () => {
    // The OTLP/HTTP receiver answers 405 to a GET on its traces path once it is up.
    const r = await httpGet({ ...COLLECTOR, path: '/v1/traces', timeoutMs: 1_000 });
    return r.status === 405 ? true : undefined;
  }, collector.output);

  const api = start(t, [join(apiRoot, 'veza-api')], {
    HOST: API.host, PORT: String(API.port), DATABASE_URL: 'postgres://veza:veza@127.79.85.3:1/veza',
    VEZA_RELEASE_SHA: SHA, VEZA_COLOR: 'blue', VEZA_ENV: 'otel', OTEL_EXPORTER_OTLP_ENDPOINT: ENDPOINT,
  });
  await until('veza-api answers', async () => ((await httpGet({ ...API, path: '/api/v1/health', timeoutMs: 1_000 })).status === 200 ? true : undefined), api.output);
  assert.equal((await httpGet({ ...API, path: '/api/v1/status', timeoutMs: 5_000 })).status, 200);
  assert.equal((await httpGet({ ...API, path: '/no/such/page', timeoutMs: 5_000 })).status, 404);
  // SIGTERM: veza-api flushes what its batcher holds on the way out.
  api.child.kill('SIGTERM');
  await once(api.child, 'exit');

  const want = ['GET /api/v1/health', 'GET /api/v1/status', 'GET unmatched', 'db.schema_version'];
  const spans = await until('the collector wrote every span', async () => {
    const lines = (await readFile(spanFile, 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l) as SpanLine);
    const all = lines.flatMap((l) => l.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans.map((s) => ({ ...s, resource: rs.resource })))));
    return want.every((n) => all.some((s) => s.name === n)) ? all : undefined;
  }, () => `${collector.output()}\nveza-api: ${api.output()}`);

  for (const s of spans) {
    assert.equal(attr(s.resource.attributes, 'service.name')?.stringValue, 'veza-api');
    assert.equal(attr(s.resource.attributes, 'service.version')?.stringValue, SHA, 'the release the binary was built as');
  }
  const named = (n: string) => spans.find((s) => s.name === n)!;
  assert.equal(attr(named('GET /api/v1/health').attributes, 'http.route')?.stringValue, '/api/v1/health');
  assert.equal(attr(named('GET /api/v1/health').attributes, 'http.response.status_code')?.intValue, '200');
  assert.equal(attr(named('GET unmatched').attributes, 'http.response.status_code')?.intValue, '404');
  assert.equal(named('db.schema_version').traceId, named('GET /api/v1/status').traceId, 'the database read is part of the status request\'s trace');
  assert.match(collector.output(), /Traces.*"resource spans": \d+/, 'the debug exporter logs each batch too');
});
