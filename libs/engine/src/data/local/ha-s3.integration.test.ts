import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { promises as fs, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { environmentSchema, type Environment } from '../../config/environment';
import { VezaError } from '../../log/errors';
import { createMemoryLogger } from '../../log/logger';
import { createProcessRunner } from '../../ports/process';
import { chainedSteps, tempWorkspace } from '../../hosts/local/testing/fixtures';
import { readSample } from '../ha/metrics';
import { BACKUP_S3_USER } from '../ha/s3-repository';
import { createDataTier } from '../tier';
import { haLayout } from './ha';
import type { LocalHaTier } from './ha-tier';
import { localMinio } from './minio';
import { inspectTlsFront, localTlsFront } from './minio-tls';
import { livePid } from './pids';
import { localPgPaths } from './postgres';
import { rowsAroundFullBackup } from './testing/ha-drills';

/**
 * The HA topology's S3 repository for real (seed 001: "backups land in
 * MinIO"): the formation archives and backs up into a bucket of the
 * environment's MinIO, through the HAProxy TLS front, as the backup user
 * whose policy reaches that bucket only; the drill restores from it. On
 * 127.79.37.x (this file's own addresses), ports 25810-25830.
 */
const SUBNET = '127.79.37';
const root = join(__dirname, '../../../../..');
const toolsDir = execFileSync('bash', [join(root, 'tools/scripts/minio-tools.sh')], { encoding: 'utf8' }).trim();

function s3Env(name: string): Environment {
  return environmentSchema.parse({
    name, driver: 'local', prefix: `veza-${name}-`, publicHosts: ['localhost'], publicUrl: 'http://localhost:18080', edge: 'local-edge',
    registry: { url: 'file:.veza/registry', owner: 'veza' }, local: { subnet: SUBNET },
    data: {
      postgres: { port: 25810, topology: 'ha', ha: { nodes: 2, pgbouncer: { port: 25820, poolSize: 10, reservePoolSize: 2 }, backup: { repository: { type: 's3', tlsPort: 25829 }, drill: { table: 'items', minRows: 1 } } } },
      minio: { port: 25825, binary: join(toolsDir, 'minio') },
    },
  });
}

test('HA topology on local with an S3 repository: WAL, backups and the drill go through the TLS front into MinIO', { timeout: 15 * 60_000 }, async (t) => {
  const env = s3Env('ha-s3');
  const tmp = await tempWorkspace(t, 'ha-s3');
  const log = createMemoryLogger();
  const tier = () => createDataTier(env, { workspaceRoot: tmp.dir, runner: createProcessRunner(), log }) as LocalHaTier;
  tmp.defer(() => tier().stop());
  const l = haLayout(env, tmp.dir);
  const dataRoot = localPgPaths(tmp.dir, env.name).root;
  const front = localTlsFront(env, dataRoot)!;
  const minio = localMinio(env, dataRoot)!;
  const step = chainedSteps(t);
  let password = '';
  const mc = (args: string[], o: { user?: string; secret?: string; input?: string } = {}) =>
    spawnSync(minio.mc, ['--no-color', ...args], { input: o.input, env: { ...process.env, MC_HOST_veza: `http://${o.user ?? 'veza'}:${o.secret ?? password}@${SUBNET}.31:25825`, MC_CONFIG_DIR: join(tmp.dir, 'mc') }, encoding: 'utf8' });

  await step('provision starts MinIO and the TLS front before the formation, and the stanza lands in the bucket', async () => {
    const dry = await tier().provision({ dryRun: true });
    const titles = dry.steps.map((s) => s.title);
    assert.ok(titles.findIndex((s) => s.startsWith('start the TLS front')) < titles.findIndex((s) => s.startsWith('create and start node1')), 'the front runs before node1 first archives');
    await assert.rejects(fs.stat(l.root), /ENOENT/, 'a dry-run touches nothing');

    await tier().provision();
    password = (await tier().serviceEnv()).S3_SECRET_KEY!;
    const conf = readFileSync(l.backrest.configFile, 'utf8');
    assert.match(conf, /^repo1-type=s3$/m);
    assert.match(conf, new RegExp(`^repo1-s3-endpoint=${SUBNET}\\.31$`, 'm'));
    assert.match(conf, /^repo1-storage-port=25829$/m);
    assert.match(conf, new RegExp(`^repo1-s3-key=${BACKUP_S3_USER}$`, 'm'));
    assert.ok(!conf.includes(password), "pgbackrest.conf holds the backup user's key, never MinIO's root password");
    assert.equal((await fs.stat(l.backrest.configFile)).mode & 0o777, 0o600);
    const frontPid = inspectTlsFront(front).pid!;
    assert.ok(frontPid, 'the TLS front runs');
    const secret = /^repo1-s3-key-secret=(.+)$/m.exec(conf)![1]!;
    assert.ok(!readFileSync(`/proc/${frontPid}/cmdline`, 'utf8').includes(secret));
    assert.ok(!log.lines.some((x) => x.includes(secret) || x.includes(password)), 'no key reaches the log');

    const ls = mc(['ls', '--recursive', 'veza/veza-ha-s3-pgbackrest/pgbackrest/']);
    assert.equal(ls.status, 0, ls.stderr);
    assert.match(ls.stdout, /backup\/veza\/backup\.info/, 'the stanza is in the bucket');
    assert.match(ls.stdout, /archive\/veza\/archive\.info/);

    const again = await tier().provision();
    assert.deepEqual(again.steps.filter((s) => s.kind === 'spawn' || /stanza|TLS front|certificate/.test(s.title)).map((s) => s.title), [], 'a second provision starts and makes nothing');
    assert.equal(inspectTlsFront(front).pid, frontPid);
  });

  await step("the backup user reaches the backup bucket only, and pgBackRest refuses a front whose certificate it does not trust", async () => {
    const secret = /^repo1-s3-key-secret=(.+)$/m.exec(readFileSync(l.backrest.configFile, 'utf8'))![1]!;
    assert.equal(mc(['ls', 'veza/veza-ha-s3-pgbackrest/'], { user: BACKUP_S3_USER, secret }).status, 0);
    const media = mc(['ls', 'veza/veza-ha-s3/'], { user: BACKUP_S3_USER, secret });
    assert.notEqual(media.status, 0, 'the media bucket is out of its reach');
    assert.match(media.stderr, /Access Denied/i);
    // The same configuration with the system's CAs instead of the front's certificate: TLS is checked, not merely spoken.
    const other = join(tmp.dir, 'untrusting.conf');
    await fs.writeFile(other, readFileSync(l.backrest.configFile, 'utf8').replace(/^repo1-storage-ca-file=.*$/m, 'repo1-storage-ca-file=/etc/ssl/certs/ca-certificates.crt'), { mode: 0o600 });
    const r = spawnSync('pgbackrest', [`--config=${other}`, '--stanza=veza', `--log-path=${tmp.dir}`, '--lock-path=' + tmp.dir, 'info'], { encoding: 'utf8' });
    assert.match(r.stdout + r.stderr, /unable to verify certificate/);
  });

  await step('restore drill from the bucket: the backup point and the archive after it come back; metrics say success', async () => {
    const url = await tier().databaseUrl();
    await assert.rejects(tier().drill(), (e: unknown) => e instanceof VezaError && e.code === 'DATA_NO_BACKUP');
    const full = await rowsAroundFullBackup(tier(), l, url, 30);
    assert.equal(full.type, 'full');
    const result = await tier().drill();
    assert.equal(result.restoredRows, 130, 'the backup point (100 rows) plus the archived WAL after it (30 rows)');
    const metrics = await fs.readFile(join(l.metricsDir, 'veza_backup_drill.prom'), 'utf8');
    assert.equal(readSample(metrics, 'veza_backup_drill_success'), 1);
    const ls = mc(['ls', '--recursive', `veza/veza-ha-s3-pgbackrest/pgbackrest/backup/veza/${full.label}/`]);
    assert.match(ls.stdout, /backup\.manifest/, 'the full backup is in the bucket');
    t.diagnostic(`drill from S3: ${result.durationSeconds.toFixed(1)} s`);
  });

  await step('a drill against a corrupted bucket fails clearly and writes success 0', async () => {
    for (const f of ['backup.info', 'backup.info.copy']) {
      const r = mc(['pipe', `veza/veza-ha-s3-pgbackrest/pgbackrest/backup/veza/${f}`], { input: 'corrupted by the test\n' });
      assert.equal(r.status, 0, r.stderr);
    }
    await assert.rejects(tier().drill(), (e: unknown) => e instanceof VezaError && e.code === 'DRILL_FAILED' && /repository s3:\/\/veza-ha-s3-pgbackrest\/pgbackrest .* cannot be read/.test(e.message));
    const metrics = await fs.readFile(join(l.metricsDir, 'veza_backup_drill.prom'), 'utf8');
    assert.equal(readSample(metrics, 'veza_backup_drill_success'), 0);
  });

  await step('teardown stops the TLS front with MinIO, by pid', async () => {
    const pid = inspectTlsFront(front).pid;
    assert.equal(await tier().stop(), true);
    assert.equal(inspectTlsFront(front).pid, undefined, `the front (pid ${pid}) stopped`);
    assert.equal(livePid(minio.nodes[0]!.pidFile, 'minio'), undefined);
  });
});
