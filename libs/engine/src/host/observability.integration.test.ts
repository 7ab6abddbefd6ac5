import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { recordDeployMetrics } from '../deploy/metrics';
import { isVezaError } from '../log/errors';
import { createProcessRunner } from '../ports/process';
import { createDirStateStore } from '../ports/state-store';
import { httpGet } from '../util/http';
import { blackboxCheck, journeys, publicBase, renderBlackboxConfig, renderBlackboxTargets } from './blackbox';

/**
 * Debian's Prometheus tools on what the host bootstrap ships: promtool on
 * the alert rules and their unit tests, the blackbox exporter's own config
 * check, and node_exporter's textfile collector reading the deploy's metrics
 * file, scraped on this helper's own loopback address.
 */
const ROOT = resolve(__dirname, '../../../..');
const RULES_DIR = join(ROOT, 'infra/observability');
const NODE_EXPORTER = { host: '127.79.50.1', port: 25600 };
const SHA = 'a'.repeat(40);

async function tempDir(t: TestContext, prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('promtool: the alert rules check, and their unit tests pass', async () => {
  const run = createProcessRunner();
  const check = await run.run({ argv: ['promtool', 'check', 'rules', 'alert_rules.yml'], cwd: RULES_DIR });
  assert.match(check.stdout, /SUCCESS: 6 rules found/);
  const unit = await run.run({ argv: ['promtool', 'test', 'rules', 'alert_rules.test.yml'], cwd: RULES_DIR });
  assert.match(unit.stdout, /SUCCESS/);
});

test('blackbox exporter: the rendered config passes --config.check for http and https sites, a broken one does not', async (t) => {
  const dir = await tempDir(t, 'veza-blackbox-');
  const run = createProcessRunner();
  for (const url of ['https://veza.fr', 'http://localhost:18480']) {
    const file = join(dir, 'blackbox.yml');
    await writeFile(file, renderBlackboxConfig(url));
    const res = await run.run(blackboxCheck(file));
    assert.equal(res.exitCode, 0);
  }
  await writeFile(join(dir, 'broken.yml'), renderBlackboxConfig('https://veza.fr').replace('timeout: 10s', 'timeout: ten seconds'));
  const broken = await run.run(blackboxCheck(join(dir, 'broken.yml')), { check: false });
  assert.notEqual(broken.exitCode, 0);
  assert.match(broken.stderr, /Error loading config.*cannot unmarshal .*time\.Duration/);
});

test('six journeys against the public URL, each with its module and the labels the alerts select on', () => {
  assert.deepEqual(journeys('https://veza.fr').map((j) => `${j.journey} ${j.module} ${j.target}`), [
    'api_health http_2xx https://veza.fr/api/v1/health',
    'api_status http_status_envelope https://veza.fr/api/v1/status',
    'web_app http_web_app https://veza.fr/',
    'stream_status http_status_envelope https://veza.fr/stream/status',
    'websocket tcp_websocket veza.fr:443',
    'stream_playlist http_playlist https://veza.fr/tracks/synthetic-probe/index.m3u8',
  ]);
  assert.match(renderBlackboxTargets('prod', 'https://veza.fr'), /__param_module: tcp_websocket\n\s+journey: websocket\n\s+probe_kind: synthetic\n\s+env: prod/);
  assert.match(renderBlackboxConfig('http://localhost:18480'), /Host: localhost:18480/);
  for (const bad of ['veza.fr', 'ftp://veza.fr', 'https://u:p@veza.fr', 'not a url']) {
    assert.throws(() => publicBase(bad), (e: unknown) => isVezaError(e) && e.code === 'INVALID_INPUT' && /blackbox target/.test(e.message), bad);
  }
});

test('node_exporter reads the deploy metrics file with its textfile collector: veza_deploy_active_color with env and color', async (t) => {
  const dir = await tempDir(t, 'veza-textfile-');
  const store = createDirStateStore(dir);
  await recordDeployMetrics(store, 'prod', { outcome: 'success', time: new Date('2026-12-03T10:00:00Z'), activeColor: 'green', sha: SHA });
  const child = spawn('prometheus-node-exporter', [
    `--web.listen-address=${NODE_EXPORTER.host}:${NODE_EXPORTER.port}`,
    '--collector.disable-defaults', '--collector.textfile',
    `--collector.textfile.directory=${join(dir, 'metrics')}`,
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  t.after(() => child.kill('SIGTERM'));
  let body = '';
  // Bounded: 50 tries, 100 ms apart, until the exporter listens.
  for (let i = 0; i < 50 && !body; i++) {
    body = await httpGet({ ...NODE_EXPORTER, path: '/metrics', timeoutMs: 2_000 }).then((r) => (r.status === 200 ? r.body : ''), () => '');
    if (!body) await sleep(100);
  }
  assert.ok(body, `node_exporter did not answer on ${NODE_EXPORTER.host}:${NODE_EXPORTER.port}: ${stderr}`);
  assert.match(body, /^veza_deploy_active_color\{color="green",env="prod"\} 1$/m);
  assert.match(body, /^veza_deploy_active_color\{color="blue",env="prod"\} 0$/m);
  assert.match(body, new RegExp(`^veza_deploy_release_info\\{env="prod",sha="${SHA}"\\} 1$`, 'm'));
  // 2026-12-03T10:00:00Z, in the exporter's float notation.
  assert.match(body, /^veza_deploy_last_success_timestamp_seconds\{env="prod"\} 1\.796292e\+09$/m);
  assert.match(body, /^node_textfile_scrape_error 0$/m, 'the collector parsed the file without error');
});
