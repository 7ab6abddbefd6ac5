import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadPackageManifest } from '@veza/engine/artifact/manifest';
import { loadComponent, runtimeDeclaration } from '@veza/engine/config/component';
import { loadWorkspace } from '@veza/engine/config/workspace';
import { slotVars } from '@veza/engine/deploy/slots';
import { COLLECTOR_BINARY, SPAN_FILE } from '@veza/engine/host/collector';
import { inInitialUserNamespace, judgeInotify } from '@veza/engine/host/inotify';
import { IncusClient } from '@veza/engine/hosts/incus/client';
import { createIncusDriver } from '@veza/engine/hosts/incus/driver';
import { slotName } from '@veza/engine/hosts/naming';
import { createProcessRunner } from '@veza/engine/ports/process';
import { ownEnvironmentCopy, stopwatch } from './support/steps';

/**
 * Tracing on Incus (issue 16, seed 84e92a75e2): in a copy of this repository
 * with an environment of its own (`iotel`: project veza-itest-otel, prefix
 * veza-iotel-, wiped before and after, pass or fail) whose
 * observability.otlpEndpoint names its collector container on the bridge's
 * DNS, `nx run infra-host:bootstrap` places veza-otelcol in
 * veza-iotel-otelcol (the binary shipped as a file, run by its systemd unit)
 * and a second run changes nothing. The real veza-api, built and packaged by
 * `nx run veza-api:package`, runs in a slot container made by the Incus
 * driver with the variables a deploy gives it (deploy/slots.ts): its spans
 * reach the collector, read back from the span file in the collector's
 * container. No whole deploy: the data tier and the edge add minutes and
 * prove nothing here (the status request's database read fails, and is
 * traced as such). Last, the inotify check's premise on that real
 * container: its uid map is not the host's identity map, so the limit it
 * shows is its own namespace's and the bootstrap does not judge it there.
 */
const ENV = 'iotel';
const PROJECT = 'veza-itest-otel';
const PREFIX = 'veza-iotel-';
const COLLECTOR = `${PREFIX}otelcol`;
const ENDPOINT = `http://${COLLECTOR}.incus:4318`;

interface KeyValue { key: string; value: { stringValue?: string; intValue?: string } }
interface SpanLine {
  resourceSpans: { resource: { attributes: KeyValue[] }; scopeSpans: { spans: { traceId: string; name: string; attributes?: KeyValue[] }[] }[] }[];
}
const attr = (kvs: KeyValue[] | undefined, key: string) => kvs?.find((a) => a.key === key)?.value;

test('incus tier: tracing through a collector container; the inotify check inside a container', { timeout: 20 * 60_000 }, async (t) => {
  const { say, timed, summary } = stopwatch('incus-otel');
  const { repo } = await ownEnvironmentCopy(t, { name: ENV, prefix: PREFIX, project: PROJECT, port: 18496, tokenEnv: 'VEZA_IOTEL_RUNNER_TOKEN', subnet: '127.93.9', localPort: 18497, nxTimeoutMs: 15 * 60_000 }, say);
  const envFile = join(repo.dir, `infra/environments/${ENV}.yaml`);
  await fs.appendFile(envFile, `observability:\n  otlpEndpoint: ${ENDPOINT}\n`);
  await repo.commit('iotel sends its spans to its collector container');
  const env = (await loadWorkspace(repo.dir)).env(ENV);
  const runner = createProcessRunner();
  const client = new IncusClient(runner, PROJECT);

  await t.test('bootstrap places the collector in a container, veza-api in a slot sends its spans there', async () => {
    const [first, pkg] = await Promise.all([
      timed('bootstrap 1', () => repo.nx('run', 'infra-host:bootstrap', `--env=${ENV}`)),
      timed('veza-api:package', () => repo.nx('run', 'veza-api:package')),
    ]);
    assert.equal(first.code, 0, first.out);
    assert.equal(pkg.code, 0, pkg.out);
    assert.match(first.out, new RegExp(`running: incus launch veza-test-base ${COLLECTOR} .*--profile veza-data`));
    assert.match(first.out, new RegExp(`running: incus file push \\S+/veza-otelcol ${COLLECTOR}${COLLECTOR_BINARY}`));
    assert.equal((await client.output(COLLECTOR, ['systemctl', 'is-active', 'veza-otelcol'])).trim(), 'active', 'run by its systemd unit');
    assert.equal((await client.output(COLLECTOR, ['systemctl', 'is-enabled', 'veza-otelcol'])).trim(), 'enabled', 'and started at boot');
    const config = await client.output(COLLECTOR, ['cat', '/etc/veza-otelcol/config.yaml']);
    assert.match(config, /endpoint: 0\.0\.0\.0:4318/, 'the receiver listens on the container\'s own addresses');
    assert.equal(config, await fs.readFile(join(repo.dir, `dist/host/${ENV}/otelcol.yaml`), 'utf8'), 'dist/ holds the file the container runs');

    const second = await timed('bootstrap 2', () => repo.nx('run', 'infra-host:bootstrap', `--env=${ENV}`));
    assert.equal(second.code, 0, second.out);
    assert.match(second.out, /the host is already set up: nothing to do/);
    assert.doesNotMatch(second.out, /running: /);

    // The slot as a deploy makes it: the artifact the graph packaged, the variables slots.ts gives veza-api.
    const manifest = await loadPackageManifest(join(repo.dir, 'dist/artifacts/veza-api/manifest.json'));
    const declared = runtimeDeclaration(await loadComponent(join(repo.dir, 'apps/veza-api')));
    const vars = slotVars(env, declared, manifest.version, 'blue', { DATABASE_URL: 'postgres://veza:veza@127.0.0.1:1/veza' }, {});
    assert.equal(vars.OTEL_EXPORTER_OTLP_ENDPOINT, ENDPOINT, 'the environment\'s endpoint reaches the slot');
    const slot = slotName(env, 'veza-api', 'blue');
    const driver = createIncusDriver({ env, runner });
    await timed('api slot', async () => {
      await driver.create({
        name: slot, env: ENV, component: 'veza-api', role: 'blue', release: manifest.version,
        artifactPath: join(repo.dir, 'dist/artifacts/veza-api', manifest.file), artifactSha256: manifest.sha256, command: declared.run.command, needs: [],
        bind: { host: '0.0.0.0', port: declared.run.port }, vars,
      });
      await driver.start(slot);
    });
    const probe = (path: string) => driver.probe(slot, declared.run.port, path, 5_000);
    await timed('api answers', async () => {
      for (let i = 0; i < 120 && (await probe('/api/v1/health')).status !== 200; i++) await sleep(500);
    });
    assert.equal((await probe('/api/v1/health')).status, 200);
    assert.equal((await probe('/api/v1/status')).status, 200);
    assert.equal((await probe('/no/such/page')).status, 404);

    // veza-api batches (5 s) and the collector batches (1 s): bounded, the spans arrive while both keep running.
    const want = ['GET /api/v1/health', 'GET /api/v1/status', 'GET unmatched', 'db.schema_version'];
    const spans = await timed('spans in the collector', async () => {
      let text = '';
      for (let i = 0; i < 60; i++) {
        text = await client.output(COLLECTOR, ['sh', '-c', 'cat "$1" 2>/dev/null || true', 'veza', SPAN_FILE]);
        const all = text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as SpanLine)
          .flatMap((l) => l.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans.map((s) => ({ ...s, resource: rs.resource })))));
        if (want.every((n) => all.some((s) => s.name === n))) return all;
        await sleep(1_000);
      }
      const journal = await client.output(COLLECTOR, ['journalctl', '-u', 'veza-otelcol', '--no-pager', '-n', '30']).catch((e: unknown) => String(e));
      assert.fail(`the collector's span file lacks some of ${want.join(', ')}:\n${text.slice(-2_000)}\ncollector journal:\n${journal}`);
    });
    for (const s of spans) {
      assert.equal(attr(s.resource.attributes, 'service.name')?.stringValue, 'veza-api');
      assert.equal(attr(s.resource.attributes, 'service.version')?.stringValue, manifest.version, 'the release the slot runs');
    }
    const named = (n: string) => spans.find((s) => s.name === n)!;
    assert.equal(attr(named('GET unmatched').attributes, 'http.response.status_code')?.intValue, '404');
    assert.equal(named('db.schema_version').traceId, named('GET /api/v1/status').traceId, 'the database read is part of the status request\'s trace');
    say(`${spans.length} spans read from ${COLLECTOR}:${SPAN_FILE}`);
  });

  await t.test('inside a container the inotify limit is its own user namespace\'s: the bootstrap does not judge it there', async () => {
    const inside = {
      uidMap: await client.output(COLLECTOR, ['cat', '/proc/self/uid_map']),
      maxUserInstances: await client.output(COLLECTOR, ['cat', '/proc/sys/fs/inotify/max_user_instances']),
      incusSysctlFile: false,
    };
    say(`inside ${COLLECTOR}: uid_map ${inside.uidMap.trim().replace(/\s+/g, ' ')}, max_user_instances ${inside.maxUserInstances.trim()}`);
    assert.equal(inInitialUserNamespace(inside.uidMap), false, 'an unprivileged container maps its root elsewhere');
    assert.equal(judgeInotify(inside, '/etc').kind, 'unreadable');
    assert.equal(inInitialUserNamespace(await fs.readFile('/proc/self/uid_map', 'utf8')), true, 'this test runs on the host itself');
  });
  summary();
});
