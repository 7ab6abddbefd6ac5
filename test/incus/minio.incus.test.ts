import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { environmentSchema } from '@veza/engine/config/environment';
import { IncusClient } from '@veza/engine/hosts/incus/client';
import { createMemoryLogger } from '@veza/engine/log/logger';
import { createProcessRunner } from '@veza/engine/ports/process';
import { createDataTier } from '@veza/engine/data/tier';
import { formatServicesStatus } from '@veza/engine/data/status';
import { cacheGet } from '@veza/engine/data/testing/cache-get';
import { ownBridge, wipeProject } from './support/project';
import { until } from './support/until';

/**
 * Seed 001's MinIO acceptance on real containers (issue 14): the Incus data
 * tier provisions `data.minio.topology: distributed` (4 nodes × 1 drive,
 * EC:2) in a project of its own (veza-itest-minio) on the test bridge, the
 * minio and mc that tools/scripts/minio-tools.sh built pushed into each
 * container; a second provision plans nothing; objects written with their
 * sha256 read back identical with two nodes stopped hard at once
 * (`incus stop --force`). With 4 drives and parity 2 MinIO's write quorum is
 * 3 (data = parity, so data + 1): two nodes down is the write ceiling, a
 * third the read ceiling, and both refusals must say so. Started again, the
 * nodes heal what was written while they were down. Timings are printed for
 * BENCHMARKS.md. The project is wiped before (leftovers) and after, pass or fail.
 */
const PROJECT = 'veza-itest-minio';
const PREFIX = 'veza-hm-';
const NODES = [1, 2, 3, 4].map((n) => `${PREFIX}minio-${n}`);
const BUCKET = 'veza-minio-incus';
const CACHE = `${PREFIX}minio-cache`;
/**
 * A bridge of its own: the host's mc talks to the nodes and to the cache (port 8080) directly, and the deploy
 * file, which may run beside this one, counts every packet from this host to a slot port on the tier's bridge.
 */
const BRIDGE = { name: 'vezaminiobr0', address: '10.231.184.1' };
const SECRETS = { VEZA_HM_POSTGRES_PASSWORD: `pg-${randomBytes(12).toString('base64url')}`, VEZA_HM_MINIO_PASSWORD: `minio-${randomBytes(12).toString('base64url')}$!%&` };

const root = join(__dirname, '../..');
const toolsDir = execFileSync('bash', [join(root, 'tools/scripts/minio-tools.sh')], { encoding: 'utf8' }).trim();
const MC = join(toolsDir, 'mc');

const env = environmentSchema.parse({
  name: 'minio-incus', driver: 'incus', prefix: PREFIX, network: BRIDGE.name, publicHosts: ['localhost'], publicUrl: 'http://localhost:18499', edge: 'veza-hm-haproxy',
  registry: { url: 'file:.veza/registry', owner: 'veza' },
  incus: { project: PROJECT, image: 'veza-test-base', dnsSuffix: 'incus', storagePool: 'veza-test-btrfs' },
  data: { postgres: { passwordEnv: 'VEZA_HM_POSTGRES_PASSWORD' }, minio: { passwordEnv: 'VEZA_HM_MINIO_PASSWORD', binary: join(toolsDir, 'minio'), topology: 'distributed', cache: { maxSize: '256m' } } },
});

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

interface McResult { code: number | null; stdout: Buffer; stderr: string }

/** The host's mc against one node's address, bounded by `timeoutMs` (mc retries an unavailable cluster on its own). */
function mc(mcEnv: NodeJS.ProcessEnv, args: string[], o: { input?: Buffer; timeoutMs?: number } = {}): Promise<McResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(MC, ['--no-color', ...args], { env: mcEnv, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 60_000);
    child.on('error', reject);
    // mc may refuse before it has read its stdin (no quorum): the unread rest is not an error of this test.
    child.stdin.on('error', () => undefined);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out), stderr: err });
    });
    child.stdin.end(o.input ?? Buffer.alloc(0));
  });
}

test('distributed minio on incus: four nodes EC:2, the bucket versioned with its lifecycle, objects survive two nodes stopped at once, the ceilings refuse clearly, the nodes heal', { timeout: 30 * 60_000 }, async (t) => {
  const started = Date.now();
  const say = (m: string) => process.stderr.write(`[minio-incus +${secs(Date.now() - started)}] ${m}\n`);
  Object.assign(process.env, SECRETS);
  const mcConfig = mkdtempSync(join(tmpdir(), 'veza-minio-incus-'));
  const removeBridge = await ownBridge(BRIDGE.name, `${BRIDGE.address}/24`);
  const leftovers = await wipeProject(env);
  if (leftovers.length) say(`removed leftovers of an earlier run: ${leftovers.join(', ')}`);
  t.after(async () => {
    say(`teardown: removed project ${PROJECT} with ${(await wipeProject(env)).join(', ') || 'nothing'}`);
    await removeBridge();
    for (const k of Object.keys(SECRETS)) delete process.env[k];
    rmSync(mcConfig, { recursive: true, force: true });
  });
  const password = SECRETS.VEZA_HM_MINIO_PASSWORD;
  const runner = createProcessRunner();
  const client = new IncusClient(runner, PROJECT);
  const log = createMemoryLogger();
  const tier = () => createDataTier(env, { workspaceRoot: process.cwd(), runner, log });
  const incus = (args: string[], description: string) => client.run({ argv: ['incus', ...args, '--project', PROJECT], input: '', timeoutMs: 120_000, description });
  const address = async (ct: string) => until(`${ct} has an address`, 120, 1_000, async () => (await client.instances()).find((i) => i.name === ct)?.ipv4[0]);
  /** mc's alias veza on the host, pointed at one node (this host does not resolve the bridge's DNS names). */
  const via = async (ct: string): Promise<NodeJS.ProcessEnv> => ({ ...process.env, MC_CONFIG_DIR: mcConfig, MC_HOST_veza: `http://veza:${password}@${await address(ct)}:9000` });

  let t0 = Date.now();
  const first = await tier().provision();
  say(`first provision: ${first.steps.length} steps in ${secs(Date.now() - t0)}`);
  const titles = first.steps.map((s) => s.title);
  assert.ok(titles.includes(`push the minio server into ${NODES[3]}`), titles.join('\n'));
  const checked = titles.indexOf(`nginx -t on ${CACHE}'s candidate`);
  assert.ok(checked > titles.indexOf(`restart minio in ${NODES[3]}`) && checked < titles.indexOf(`the checked config goes live in ${CACHE}`), 'the cache comes after MinIO, and nginx -t before its config goes live');

  await t.test('a second provision plans nothing', async () => {
    const again = await tier().provision();
    assert.deepEqual(again.steps.map((s) => s.title), []);
    assert.match(again.summary, /already provisioned: nothing to do/);
  });

  await t.test('one erasure set of four drives under EC:2; the bucket versioned with the 30 d lifecycle; the password in no argv and no log', async () => {
    const status = (await tier().servicesStatus!()).minio;
    assert.ok(status && status.topology === 'distributed' && status.drivesOnline === 4 && status.drivesOffline === 0, JSON.stringify(status));
    assert.equal(status.servers.length, 4);
    const e = await via(NODES[0]!);
    const info = JSON.parse((await mc(e, ['admin', 'info', '--json', 'veza'])).stdout.toString()) as { info: { backend: { standardSCParity?: number } } };
    assert.equal(info.info.backend.standardSCParity, 2);
    assert.match((await mc(e, ['version', 'info', `veza/${BUCKET}`])).stdout.toString(), /versioning is enabled/i);
    assert.match((await mc(e, ['ilm', 'rule', 'ls', '--json', `veza/${BUCKET}`])).stdout.toString(), /"NoncurrentDays":\s*30/);
    assert.ok(!log.lines.some((l) => l.includes(password)), 'the password never reaches the log');
    for (const ct of NODES) {
      const ps = await client.output(ct, ['sh', '-c', 'for f in /proc/[0-9]*/cmdline; do tr "\\0" " " < "$f"; echo; done']);
      assert.match(ps, /minio server/);
      assert.ok(!ps.includes(password.slice(0, 12)), `${ct}: the password is on a command line`);
      assert.equal((await client.output(ct, ['stat', '-c', '%U %a', '/etc/default/minio'])).trim(), 'root 600');
    }
  });

  // A segment behind the cache, by a URL presigned for the cache's address (S3 signs the Host, which nginx passes on).
  const segment = randomBytes(2 * 1024 * 1024 + 4321);
  let segmentUrl = '';
  await t.test('the cache: MISS then HIT, three 1 MiB slices on disk, a range at any offset hits its slice, the hit ratio in the status', async () => {
    const vars = await tier().serviceEnv!();
    assert.deepEqual([vars.S3_ENDPOINT, vars.S3_BUCKET, vars.S3_ACCESS_KEY], [`http://${CACHE}.incus:8080`, BUCKET, 'veza'], 'the apps reach MinIO through the cache');
    const direct = await via(NODES[0]!);
    assert.equal((await mc(direct, ['pipe', `veza/${BUCKET}/tracks/1/0.ts`], { input: segment })).code, 0);
    const cacheEnv = { ...direct, MC_HOST_veza: `http://veza:${password}@${await address(CACHE)}:8080` };
    const share = await mc(cacheEnv, ['share', 'download', '--json', '--expire', '1h', `veza/${BUCKET}/tracks/1/0.ts`]);
    assert.equal(share.code, 0, share.stderr);
    segmentUrl = (JSON.parse(share.stdout.toString()) as { share: string }).share;
    const first = await cacheGet(segmentUrl);
    assert.deepEqual([first.status, first.cache], [200, 'MISS']);
    assert.ok(first.body.equals(segment));
    const second = await cacheGet(segmentUrl);
    assert.deepEqual([second.status, second.cache], [200, 'HIT']);
    assert.ok(second.body.equals(segment));
    const entries = (await client.output(CACHE, ['find', '/var/cache/veza-media/cache', '-type', 'f'])).trim().split('\n').filter(Boolean);
    assert.equal(entries.length, 3, 'three 1 MiB slices on disk');
    const offset = 1_234_567;
    const range = await cacheGet(segmentUrl, { Range: `bytes=${offset}-${offset + 99}` });
    assert.deepEqual([range.status, range.cache], [206, 'HIT'], 'the slice holding the range is already cached');
    assert.ok(range.body.equals(segment.subarray(offset, offset + 100)));
    say(`cache: MISS ${first.ms.toFixed(0)} ms, HIT ${second.ms.toFixed(0)} ms, range HIT ${range.ms.toFixed(0)} ms (2 MiB segment)`);
    const cache = (await tier().servicesStatus!()).cache;
    assert.ok(cache?.running && cache.connections, JSON.stringify(cache));
    assert.deepEqual([cache.counts.byStatus.MISS, cache.counts.byStatus.HIT], [1, 2]);
    const line = formatServicesStatus(env.name, { cache }).join('\n');
    say(`status: ${line}`);
    assert.match(line, /hit ratio 66\.7 % \(2 of 3 lookups\)/);
  });

  // Objects of 1 KiB to about 3 MiB (inline in xl.meta, and in parts), each with its sha256.
  const objects = Array.from({ length: 12 }, (_, i) => ({ key: `segments/before-${i}.ts`, body: randomBytes(1024 + i * 270_000) }));
  const write = async (e: NodeJS.ProcessEnv, o: { key: string; body: Buffer }, timeoutMs = 60_000) => mc(e, ['pipe', `veza/${BUCKET}/${o.key}`], { input: o.body, timeoutMs });
  /** Every object read back and compared by sha256; returns each read's milliseconds. */
  const readsBack = async (e: NodeJS.ProcessEnv, list: { key: string; body: Buffer }[]) => {
    const times: number[] = [];
    for (const o of list) {
      const t1 = Date.now();
      const r = await mc(e, ['cat', `veza/${BUCKET}/${o.key}`]);
      times.push(Date.now() - t1);
      assert.equal(r.code, 0, `${o.key}: ${r.stderr}`);
      assert.equal(sha256(r.stdout), sha256(o.body), `${o.key} reads back with the same checksum`);
    }
    return times;
  };
  /** The status line infra-data:status prints for MinIO, once it says what `expect` looks for. */
  const statusLine = (expect: RegExp) => until(`infra-data:status saying ${expect}`, 60, 1_000, async () => {
    const line = formatServicesStatus(env.name, await tier().servicesStatus!())[0];
    return line && expect.test(line) ? line : undefined;
  });
  // MinIO's own answer when a set lacks quorum: S3's 503 SlowDown, worded for a busy server.
  const NO_QUORUM = /Resource requested is un(writ|read)able, please reduce your request rate/;
  const live = await via(NODES[2]!);
  for (const o of objects) assert.equal((await write(live, o)).code, 0, o.key);

  // Two nodes stopped hard at the same moment.
  t0 = Date.now();
  await Promise.all([0, 1].map((i) => incus(['stop', '--force', NODES[i]!], `stop ${NODES[i]} hard`)));
  say(`nodes 1 and 2 stopped hard together in ${secs(Date.now() - t0)}`);
  t0 = Date.now();
  const readTimes = await readsBack(live, objects);
  const readMs = Date.now() - t0;
  const sorted = [...readTimes.slice(1)].sort((a, b) => a - b);
  const readFigures = `in ${secs(readMs)} (first read ${secs(readTimes[0]!)}, the others median ${sorted[Math.floor(sorted.length / 2)]} ms, max ${sorted[sorted.length - 1]} ms)`;
  say(`all ${objects.length} objects (${(objects.reduce((n, o) => n + o.body.length, 0) / (1 << 20)).toFixed(1)} MiB) read back by sha256 with 2 of 4 nodes down ${readFigures}`);

  await t.test('two nodes down: every object reads back; a write is refused for want of write quorum, and the status shows two drives offline', async () => {
    t0 = Date.now();
    const refused = await write(live, { key: 'segments/refused.ts', body: randomBytes(4096) }, 120_000);
    say(`write with 2 of 4 nodes down: exit ${refused.code} after ${secs(Date.now() - t0)}: ${refused.stderr.trim().split('\n').pop()}`);
    assert.notEqual(refused.code, 0, 'EC:2 on 4 drives needs 3 for a write');
    assert.match(refused.stderr, NO_QUORUM);
    const line = await statusLine(/drives 2 online, 2 offline/);
    say(`status: ${line}`);
    assert.match(line, /WRITES REFUSED: 2 of 4 drives of a set online, writes need 3 \(EC:2\); reads still work/);
  });

  await t.test('a third node down: reads are refused too, clearly; with every MinIO node stopped the cached segment is still served', async () => {
    await incus(['stop', '--force', NODES[2]!], `stop ${NODES[2]} hard`);
    const last = await via(NODES[3]!);
    t0 = Date.now();
    const r = await mc(last, ['cat', `veza/${BUCKET}/${objects[5]!.key}`], { timeoutMs: 120_000 });
    say(`read with 1 of 4 nodes up: exit ${r.code} after ${secs(Date.now() - t0)}: ${r.stderr.trim().split('\n').pop()}`);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, NO_QUORUM);
    const line = await statusLine(/drives 1 online, 3 offline/);
    say(`status: ${line}`);
    assert.match(line, /READS AND WRITES REFUSED: 1 of 4 drives of a set online, reads need 2 \(EC:2\)/);
    await incus(['stop', '--force', NODES[3]!], `stop ${NODES[3]} hard`);
    const served = await cacheGet(segmentUrl);
    say(`cache with every MinIO node stopped: ${served.status} ${served.cache} in ${served.ms.toFixed(0)} ms`);
    assert.equal(served.status, 200, 'MinIO is down and the cache still serves the segment');
    assert.match(served.cache, /^(HIT|STALE)$/);
    assert.ok(served.body.equals(segment));
  });

  const during = Array.from({ length: 4 }, (_, i) => ({ key: `segments/during-${i}.ts`, body: randomBytes(300_000 + i * 400_000) }));
  await t.test('nodes 2, 3 and 4 back: writes succeed again with node 1 still down', async () => {
    t0 = Date.now();
    await Promise.all([1, 2, 3].map((i) => incus(['start', NODES[i]!], `start ${NODES[i]}`)));
    const e = await via(NODES[2]!);
    await until('a write with 3 of 4 nodes up', 120, 1_000, async () => ((await write(e, during[0]!, 20_000)).code === 0 ? true : undefined));
    say(`nodes 2, 3 and 4 started; first write accepted ${secs(Date.now() - t0)} after the start`);
    for (const o of during.slice(1)) assert.equal((await write(e, o)).code, 0, o.key);
    await readsBack(e, [...objects, ...during]);
  });

  await t.test('node 1 back: healing puts what was written meanwhile on its drive; every object reads back from it; a provision plans nothing', async () => {
    t0 = Date.now();
    await incus(['start', NODES[0]!], `start ${NODES[0]}`);
    const keys = [...objects, ...during].map((o) => o.key);
    const onDrive = async () => {
      const out = await client.output(NODES[0]!, ['sh', '-c', `cd /var/lib/minio/d0/${BUCKET}/segments 2>/dev/null && find . -name xl.meta | wc -l`]).catch(() => '0');
      return Number(out.trim());
    };
    // MinIO heals objects written without a drive once it is back (its MRF queue); if it has not after 20 looks (about 30 s), an operator's heal is asked for.
    let healedBy = 'MinIO on its own';
    const healed = await until('node 1 online again', 120, 1_000, async () => ((await tier().servicesStatus!()).minio?.drivesOnline === 4 ? true : undefined))
      .then(() => until('healing on its own', 20, 1_000, async () => ((await onDrive()) === keys.length ? true : undefined)))
      .catch(() => false);
    if (!healed) {
      healedBy = 'mc admin heal -r';
      const heal = await mc(await via(NODES[0]!), ['admin', 'heal', '-r', '--json', `veza/${BUCKET}`], { timeoutMs: 300_000 });
      assert.equal(heal.code, 0, heal.stderr);
      await until('healing after mc admin heal', 60, 1_000, async () => ((await onDrive()) === keys.length ? true : undefined));
    }
    const status = await until('no drive healing, all four online', 60, 1_000, async () => {
      const m = (await tier().servicesStatus!()).minio;
      return m && m.drivesOnline === 4 && m.healing === 0 ? m : undefined;
    });
    say(`node 1 started; all ${keys.length} objects on its drive (healed by ${healedBy}) and ${status.drivesOnline} drives online, 0 healing, ${secs(Date.now() - t0)} after the start`);
    await readsBack(await via(NODES[0]!), [...objects, ...during]);
    const after = await tier().provision();
    assert.deepEqual(after.steps.map((s) => s.title), []);
  });
  console.log(`# minio EC:2 on incus: ${objects.length} objects read back by sha256 with 2 of 4 nodes down ${readFigures}`);
  say(`done in ${secs(Date.now() - started)}`);
});
