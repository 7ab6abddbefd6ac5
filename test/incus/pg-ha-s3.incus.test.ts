import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { haMetricsDir } from '@veza/engine/data/ha/metrics-files';
import { readSample } from '@veza/engine/data/ha/metrics';
import { BACKUP_S3_USER } from '@veza/engine/data/ha/s3-repository';
import { environmentSchema } from '@veza/engine/config/environment';
import { IncusClient } from '@veza/engine/hosts/incus/client';
import { createMemoryLogger } from '@veza/engine/log/logger';
import { createProcessRunner } from '@veza/engine/ports/process';
import { createDataTier } from '@veza/engine/data/tier';
import type { IncusHaTier } from '@veza/engine/data/incus/ha-tier';
import { incusPgHa, queryIn, readFormationOnIncus } from '@veza/engine/data/incus/pg-ha';
import { withMcHost } from '@veza/engine/data/incus/services';
import { incusSettings } from '@veza/engine/hosts/incus/host';
import { query } from '@veza/engine/data/local/testing/ha-drills';
import { VezaError } from '@veza/engine/log/errors';
import { ownProject } from './support/project';
import { until } from './support/until';

/**
 * The HA topology's S3 repository on real containers (issue 13, seed 001:
 * "backups land in MinIO"): the Incus data tier provisions a single MinIO
 * with its TLS front (HAProxy in MinIO's container, a certificate made
 * there for its DNS name) before the formation, which then archives WAL and
 * backs up into the bucket as the backup user, through the front, trusting
 * that certificate only; the drill restores from the bucket in a throw-away
 * container; a corrupted bucket fails the drill clearly. In a project of its
 * own (veza-itest-pghas3) on a bridge of its own (vezapgs3br0), wiped before
 * and after, pass or fail.
 */
const PROJECT = 'veza-itest-pghas3';
const BRIDGE = { name: 'vezapgs3br0', address: '10.231.186.1' };
const PREFIX = 'veza-hs-';
const MINIO = `${PREFIX}minio`;
const BUCKET = 'veza-pghas3-incus-pgbackrest';
const SECRETS = { VEZA_HS_POSTGRES_PASSWORD: `pg-${randomBytes(12).toString('base64url')}`, VEZA_HS_MINIO_PASSWORD: `minio-${randomBytes(12).toString('base64url')}` };
const root = join(__dirname, '../..');
const toolsDir = execFileSync('bash', [join(root, 'tools/scripts/minio-tools.sh')], { encoding: 'utf8' }).trim();

const env = environmentSchema.parse({
  name: 'pghas3-incus', driver: 'incus', prefix: PREFIX, network: BRIDGE.name, publicHosts: ['localhost'], publicUrl: 'http://localhost:18499', edge: 'veza-hs-haproxy',
  registry: { url: 'file:.veza/registry', owner: 'veza' },
  incus: { project: PROJECT, image: 'veza-test-base', dnsSuffix: 'incus', storagePool: 'veza-test-btrfs' },
  data: {
    postgres: { passwordEnv: 'VEZA_HS_POSTGRES_PASSWORD', topology: 'ha', ha: { nodes: 2, pgbouncer: { poolSize: 10, reservePoolSize: 2 }, backup: { repository: { type: 's3' }, drill: { table: 'items', minRows: 1 } } } },
    minio: { passwordEnv: 'VEZA_HS_MINIO_PASSWORD', binary: join(toolsDir, 'minio') },
  },
});
const h = incusPgHa(env, incusSettings(env), env.data.postgres.ha!);
const NODE1 = h.nodes[0]!.container;

test('pg ha on incus with an S3 repository: MinIO and its TLS front first, WAL and backups into the bucket, the drill restores from it, a corrupted bucket fails it', { timeout: 25 * 60_000 }, async (t) => {
  const say = await ownProject(t, env, SECRETS, 'pg-ha-s3-incus', BRIDGE);
  const runner = createProcessRunner();
  const client = new IncusClient(runner, PROJECT);
  const log = createMemoryLogger();
  const workspace = await fs.mkdtemp(join(tmpdir(), 'veza-pghas3-incus-'));
  t.after(() => fs.rm(workspace, { recursive: true, force: true }));
  const metric = async (name: string) => readSample(await fs.readFile(join(haMetricsDir(workspace, env.name), 'veza_backup_drill.prom'), 'utf8').catch(() => undefined), name);
  const tier = () => createDataTier(env, { workspaceRoot: workspace, runner, log }) as IncusHaTier;
  // mc inside MinIO's container, as root (this host does not resolve the bridge's names).
  const mc = (argv: string[], input?: string) => runner.run(withMcHost(client.scope, MINIO, 9000, SECRETS.VEZA_HS_MINIO_PASSWORD, ['mc', '--no-color', ...argv], { description: `mc ${argv[0]}`, timeoutMs: 60_000, ...(input === undefined ? {} : { input }) }), { check: false });

  const t0 = Date.now();
  const first = await tier().provision();
  say(`first provision: ${first.steps.length} steps in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const titles = first.steps.map((s) => s.title);
  const at = (prefix: string) => titles.findIndex((x) => x.startsWith(prefix));
  assert.ok(at('restart haproxy in') >= 0 && at('restart haproxy in') < at(`create the pgBackRest stanza in s3://${BUCKET}/pgbackrest`), titles.join('\n'));
  assert.ok(at(`give ${NODE1} the TLS front's certificate`) >= 0, 'node 1 trusts the front');
  assert.ok(!titles.some((x) => x.startsWith('mount the repository')), 'no host folder with an S3 repository');
  const f = (await readFormationOnIncus(client, h))!.formation;
  assert.equal(f.healthy, true, f.problems.join('; '));

  await t.test('a second provision plans nothing', async () => {
    const again = await tier().provision();
    assert.deepEqual(again.steps.map((s) => s.title), []);
  });

  await t.test("the nodes hold the backup user's key, never MinIO's root password; the key is in no argv", async () => {
    const conf = await client.readFile(NODE1, '/etc/pgbackrest.conf');
    assert.match(conf!, new RegExp(`^repo1-s3-endpoint=${MINIO}\\.incus$`, 'm'));
    assert.match(conf!, new RegExp(`^repo1-s3-key=${BACKUP_S3_USER}$`, 'm'));
    assert.ok(!conf!.includes(SECRETS.VEZA_HS_MINIO_PASSWORD));
    const key = /^repo1-s3-key-secret=(.+)$/m.exec(conf!)![1]!;
    for (const ct of [MINIO, NODE1]) {
      const ps = await client.output(ct, ['sh', '-c', 'for f in /proc/[0-9]*/cmdline; do tr "\\0" " " < "$f"; echo; done']);
      assert.ok(!ps.includes(key) && !ps.includes(SECRETS.VEZA_HS_MINIO_PASSWORD), `${ct}: a key is on a command line`);
    }
    assert.ok(!log.lines.some((l) => l.includes(key) || l.includes(SECRETS.VEZA_HS_MINIO_PASSWORD)), 'no key reaches the log');
    assert.equal((await client.output(MINIO, ['stat', '-c', '%U %a', '/etc/haproxy/veza-minio-front.pem.key'])).trim(), 'root 600');
  });

  // This host does not resolve the bridge's DNS names: PgBouncer by its container's address.
  const url = new URL(await tier().databaseUrl());
  url.hostname = (await client.instance(h.pgbouncer.container))!.ipv4[0]!;
  const dsn = url.toString();

  await t.test('backup into the bucket; the drill restores the backup point and the archive after it', async () => {
    await assert.rejects(tier().drill(), (e: unknown) => e instanceof VezaError && e.code === 'DATA_NO_BACKUP');
    await query(dsn, 'CREATE TABLE items (id int PRIMARY KEY, phase text)');
    await query(dsn, "INSERT INTO items SELECT g, 'before' FROM generate_series(1, 100) g");
    const full = await tier().backup('full');
    await query(dsn, "INSERT INTO items SELECT g, 'after' FROM generate_series(101, 130) g");
    const primary = h.nodes.find((n) => n.name === (f.primary?.name ?? 'node1'))!;
    // Closes the segment holding the later rows and waits until it is archived into the bucket.
    // One value, named v, from the primary.
    const sql = async (q: string) => (await queryIn(client, primary.container, primary.port, 'postgres', `${q};\n`, q))?.[0]?.v;
    const wal = (await sql('SELECT pg_walfile_name(pg_switch_wal()) AS v'))!;
    await until(`WAL ${wal} archived`, 120, 500, async () => (((await sql("SELECT coalesce(last_archived_wal, '') AS v FROM pg_stat_archiver")) ?? '') >= wal ? true : undefined));
    const ls = await mc(['ls', '--recursive', `veza/${BUCKET}/pgbackrest/backup/veza/${full.label}/`]);
    assert.match(ls.stdout, /backup\.manifest/, `the full backup is in the bucket: ${ls.stderr}`);
    const d0 = Date.now();
    const result = await tier().drill();
    say(`drill from S3: ${((Date.now() - d0) / 1000).toFixed(1)} s`);
    assert.equal(result.restoredRows, 130, 'the backup point (100 rows) plus the archived WAL after it (30 rows)');
    assert.equal(await metric('veza_backup_drill_success'), 1);
    assert.equal(await client.instance(`${PREFIX}pg-drill`), undefined, 'the throw-away container is gone');
  });

  await t.test('a drill against a corrupted bucket fails clearly and writes success 0', async () => {
    for (const file of ['backup.info', 'backup.info.copy']) {
      const r = await mc(['pipe', `veza/${BUCKET}/pgbackrest/backup/veza/${file}`], 'corrupted by the test\n');
      assert.equal(r.exitCode, 0, r.stderr);
    }
    await assert.rejects(tier().drill(), (e: unknown) => e instanceof VezaError && e.code === 'DRILL_FAILED' && new RegExp(`repository s3://${BUCKET}/pgbackrest .* cannot be read`).test(e.message));
    assert.equal(await metric('veza_backup_drill_success'), 0);
  });
});
