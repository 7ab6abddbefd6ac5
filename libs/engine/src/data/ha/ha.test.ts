import { test } from 'node:test';
import { execFileSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { haSettings, parseEnvironment } from '../../config/environment';
import { VezaError } from '../../log/errors';
import {
  autoctlConfigFile, createMonitorArgs, createNodeArgs, monitorFailoverSettings, monitorUri, partitionTimeoutArgs, partitionTimeoutIn, readFormation, readMonitorSettings, renderFormationHba,
  staleMonitorSettings, whyUnwritable, withPrimaryUnanswered, type NodeRow,
} from './formation';
import { readSample, renderDrillMetrics, renderFormationMetrics } from './metrics';
import { formatHaStatus, renderBackupTimers } from './operations';
import { runnerTimerFiles, runnerTimers, runnerTimerSteps } from './timers';
import { verifyUnits } from '../../util/testing/systemd';
import { readBackupInfo, renderArchiveConf, renderBackrestConf, renderDrillOverrides, restoreCommand } from './pgbackrest';
import { backupPolicy, backupRepoCommands, backupUserSecret, renderTlsFront, s3Repository, tlsCertArgv } from './s3-repository';
import { parseAlignedTable, renderPgbouncerHba, renderPgbouncerIni, renderPrimaryFollower, renderUserlist, serverConnections, type PoolRow } from './pgbouncer';

/** Pure HA pieces: the environment schema, the rendered configs, the commands as data, the readers. No process runs. */
const BASE = `name: prod
driver: local
prefix: veza-prod-
publicHosts: [localhost]
publicUrl: http://localhost:1
edge: e
registry: { url: 'file:r', owner: veza }
local: { subnet: 127.79.33 }
`;
const env = (data: string) => parseEnvironment('infra/environments/prod.yaml', BASE + data);
const refused = (data: string, re: RegExp) => assert.throws(() => env(data), (e: unknown) => e instanceof VezaError && e.code === 'BAD_CONFIG' && re.test(e.message), re.source);

test('topology defaults to single (today); ha fills the seed defaults', () => {
  assert.equal(env('').data.postgres.topology, 'single');
  assert.equal(haSettings(env('')), undefined);
  const ha = haSettings(env('data:\n  postgres:\n    topology: ha\n'))!;
  assert.deepEqual([ha.nodes, ha.syncStandbys, ha.pgbouncer.poolMode, ha.pgbouncer.poolSize, ha.pgbouncer.maxClientConn, ha.backup.retentionFull], [2, 0, 'transaction', 50, 1000, 4]);
});

test('HA settings that cannot work are refused with the file and line', () => {
  refused('data:\n  postgres:\n    topology: ha\n    ha:\n      nodes: 1\n', /prod\.yaml:13: data\.postgres\.ha\.nodes: an HA formation needs at least 2 data nodes/);
  refused('data:\n  postgres:\n    topology: ha\n    maxConnections: 50\n    ha:\n      pgbouncer:\n        poolSize: 45\n', /prod\.yaml:15: data\.postgres\.ha\.pgbouncer\.poolSize: poolSize \+ reservePoolSize \(55\) must stay below data\.postgres\.maxConnections \(50\)/);
  refused('data:\n  postgres:\n    topology: ha\n    ha:\n      backup:\n        retentionFull: 0\n', /prod\.yaml:14: data\.postgres\.ha\.backup\.retentionFull: retention must keep at least 1 full backup/);
  refused('data:\n  postgres:\n    topology: ha\n    ha:\n      backup:\n        repository: { path: backups/repo }\n', /prod\.yaml:14: data\.postgres\.ha\.backup\.repository\.path: must be an absolute path/);
  refused('data:\n  postgres:\n    topology: ha\n    ha:\n      syncStandbys: 1\n', /prod\.yaml:13: .*2 nodes allow at most 0 sync standbys/);
  refused('data:\n  postgres:\n    ha:\n      nodes: 3\n', /prod\.yaml:11: data\.postgres\.ha: ha settings need topology: ha/);
  // A cut-off primary stopping itself only after its standby may be promoted: two primaries.
  refused('data:\n  postgres:\n    topology: ha\n    ha:\n      failover: { unhealthySeconds: 5, demoteSeconds: 5, networkPartitionSeconds: 6 }\n',
    /prod\.yaml:13: data\.postgres\.ha\.failover\.networkPartitionSeconds: networkPartitionSeconds \(6\) \+ 5 s must not exceed unhealthySeconds \+ demoteSeconds \(10\).*lower it or raise demoteSeconds/);
  assert.equal(haSettings(env('data:\n  postgres:\n    topology: ha\n    ha:\n      failover: { unhealthySeconds: 5, demoteSeconds: 5, networkPartitionSeconds: 5 }\n'))!.failover.networkPartitionSeconds, 5, 'the bound itself is allowed');
});

test('the failover timing: the monitor\'s settings (health checks shortened with it) and the keepers\' partition timeout, read back from what the monitor and pg_autoctl write', () => {
  const f = haSettings(env('data:\n  postgres:\n    topology: ha\n'))!.failover;
  assert.deepEqual(f, { unhealthySeconds: 10, demoteSeconds: 15, networkPartitionSeconds: 10 });
  const want = monitorFailoverSettings(f);
  assert.equal(want['pgautofailover.node_considered_unhealthy_timeout'], '10000');
  assert.equal(want['pgautofailover.primary_demote_timeout'], '15000');
  // The health checks' worst case (a try that times out, then each retry after its delay) fits in the unhealthy window.
  const tries = Number(want['pgautofailover.health_check_timeout']) * 3 + Number(want['pgautofailover.health_check_retry_delay']) * 2;
  assert.ok(tries <= f.unhealthySeconds * 1000, `health checks take up to ${tries} ms`);
  const read = readMonitorSettings([{ name: 'number_sync_standbys', setting: '1' }, ...Object.entries(want).map(([name, setting]) => ({ name, setting })), { name: 'pgautofailover.startup_grace_period', setting: '10000' }]);
  assert.equal(read.syncStandbys, 1);
  assert.deepEqual(staleMonitorSettings(read.settings, want), []);
  assert.deepEqual(staleMonitorSettings({ ...read.settings, 'pgautofailover.primary_demote_timeout': '30000' }, want), ['pgautofailover.primary_demote_timeout']);
  assert.equal(staleMonitorSettings(undefined, want).length, 5, 'an unread monitor gets them all');
  assert.deepEqual(partitionTimeoutArgs('/d/node1', 10), ['config', 'set', '--pgdata', '/d/node1', 'timeout.network_partition_timeout', '10']);
  assert.equal(autoctlConfigFile({ binDir: '/b', xdgConfig: '/x/config', xdgData: '/x/data', xdgRuntime: '/r' }, '/d/node1'), '/x/config/pg_autoctl/d/node1/pg_autoctl.cfg');
  assert.equal(partitionTimeoutIn('[pg_autoctl]\nrole = keeper\n\n[timeout]\nnetwork_partition_timeout = 20\nprepare_promotion_catchup = 30\n'), 20);
  assert.equal(partitionTimeoutIn(undefined), undefined);
});

test('pg_autoctl commands pin every member to its own address and keep our pg_hba.conf', () => {
  const monitor = { name: 'monitor', host: '127.79.33.20', port: 25400, pgdata: '/d/monitor' };
  const node = { name: 'node1', host: '127.79.33.21', port: 25401, pgdata: '/d/node1' };
  assert.deepEqual(createMonitorArgs(monitor).slice(0, 2), ['create', 'monitor']);
  const args = createNodeArgs(node, monitor, 'veza');
  for (const [flag, value] of [['--hostname', node.host], ['--listen', node.host], ['--pgport', '25401'], ['--monitor', monitorUri(monitor)], ['--dbname', 'veza']]) {
    assert.equal(args[args.indexOf(flag!) + 1], value, flag);
  }
  assert.ok(args.includes('--skip-pg-hba'));
  const hba = renderFormationHba('127.0.0.0/8');
  assert.match(hba, /^host +all +all +127\.0\.0\.0\/8 +scram-sha-256$/m, 'the app and every other role need a password');
  assert.doesNotMatch(hba, /^host +all +all .*trust/m);
});

const row = (name: string, state: string, goal = state, lsn = '0/3000000', health = 1): NodeRow => ({ nodename: name, nodehost: '127.0.0.1', nodeport: 1, reportedstate: state, goalstate: goal, health, reportedlsn: lsn });

test('the formation is read from the monitor: primary, lag, and what keeps it from healthy', () => {
  const ok = readFormation([row('node1', 'primary'), row('node2', 'secondary', 'secondary', '0/2FFFF00')]);
  assert.equal(ok.healthy, true);
  assert.equal(ok.primary?.name, 'node1');
  assert.equal(ok.nodes[1]!.lagBytes, 256);
  const failing = readFormation([row('node1', 'primary', 'draining', '0/3000000', 0), row('node2', 'secondary', 'prepare_promotion')]);
  assert.equal(failing.healthy, false);
  assert.equal(failing.primary, undefined);
  assert.deepEqual(failing.problems, ['no primary', 'node1 is unreachable (health check failing)', 'node2 is moving from secondary to prepare_promotion']);
  const alone = readFormation([row('node2', 'wait_primary'), row('node1', 'catchingup')]);
  assert.equal(alone.primary?.name, 'node2');
  assert.equal(alone.healthy, false);
});

test('a primary that does not answer makes the formation degraded, whatever the monitor still says', () => {
  const timing = { unhealthySeconds: 10, demoteSeconds: 15, networkPartitionSeconds: 10 };
  const stale = withPrimaryUnanswered(readFormation([row('node1', 'primary'), row('node2', 'secondary')]), timing);
  assert.equal(stale.healthy, false);
  assert.equal(stale.problems[0], 'node1, the primary, does not answer; pg_auto_failover promotes a standby once it has heard nothing from it for 10 s and then waited 15 s for it to step down (about 30 s from the crash)');
  assert.match(renderFormationMetrics('prod', stale), /^veza_pg_formation_healthy\{env="prod"\} 0$/m);
  const noPrimary = readFormation([row('node2', 'wait_primary', 'primary'), row('node1', 'primary', 'demoted', '0/3000000', 0)]);
  assert.equal(withPrimaryUnanswered(noPrimary, timing), noPrimary, 'with no primary named there is nothing to correct');
});

test('why a deploy\'s migration found the database unwritable: no monitor, a failover under way, a primary that does not answer; nothing when it answers', async () => {
  const settled = readFormation([row('node1', 'primary'), row('node2', 'secondary')]);
  const asked: string[] = [];
  const answers = (ok: boolean) => async (p: { name: string }) => (asked.push(p.name), ok);
  const timing = { unhealthySeconds: 10, demoteSeconds: 15, networkPartitionSeconds: 10 };
  assert.equal(await whyUnwritable('prod', undefined, timing, answers(true)), 'the pg_auto_failover monitor of prod does not answer');
  assert.match((await whyUnwritable('prod', readFormation([row('node2', 'wait_primary', 'primary'), row('node1', 'primary', 'demoted', '0/3000000', 0)]), timing, answers(true)))!, /^a failover is under way \(no primary; /);
  assert.match((await whyUnwritable('prod', settled, timing, answers(false)))!, /^node1, the primary, does not answer; .* 10 s .* 15 s/);
  assert.equal(await whyUnwritable('prod', settled, timing, answers(true)), undefined);
  assert.deepEqual(asked, ['node1', 'node1'], 'the named primary itself is asked, and only when there is one');
});

test('PgBouncer: transaction pooling within the pool, the admin console on the socket only, the password only in the 0600 userlist', () => {
  const layout = { listenHost: '127.79.33.2', listenPort: 6432, socketDir: '/r', adminUser: 'postgres', databasesFile: '/p/db.ini', userlistFile: '/p/users', hbaFile: '/p/hba', pidFile: '/p/pid', logFile: '/p/log' };
  const ini = renderPgbouncerIni(layout, { port: 6432, poolMode: 'transaction', poolSize: 50, reservePoolSize: 10, maxClientConn: 1000 });
  for (const line of ['pool_mode = transaction', 'default_pool_size = 50', 'max_db_connections = 60', 'max_client_conn = 1000', 'listen_addr = 127.79.33.2', '%include /p/db.ini']) assert.ok(ini.includes(line), line);
  assert.match(renderPgbouncerHba('postgres', 'veza'), /^local +pgbouncer +postgres +peer$/m);
  assert.doesNotMatch(renderPgbouncerHba('postgres', 'veza'), /^host .*postgres/m);
  assert.match(renderPgbouncerHba('postgres', 'veza'), /^host +all +veza +127\.0\.0\.0\/8 +scram-sha-256$/m, 'loopback unless a network is given');
  assert.match(renderPgbouncerHba('postgres', 'veza', '0.0.0.0/0'), /^host +all +veza +0\.0\.0\.0\/0 +scram-sha-256$/m);
  assert.equal(renderUserlist('veza', 'pa"ss', 'postgres').split('\n')[0], '"veza" "pa""ss"');
  const pools = parseAlignedTable('database\tuser\tsv_active\tsv_idle\tsv_used\tsv_tested\tsv_login\nveza\tveza\t3\t2\t1\t0\t0\n') as unknown as PoolRow[];
  assert.equal(serverConnections(pools[0]!), 6);
  const follower = renderPrimaryFollower({ psql: '/pg/psql', monitorUri: 'postgres://autoctl_node@127.0.0.1:1/pg_auto_failover', database: 'veza', databasesFile: '/p/db.ini', pidFile: '/p/pid' });
  execFileSync('shellcheck', ['-'], { input: follower });
});

test('pgBackRest: encrypted zstd repository, every node listed, archive_command into the stanza, restore into another folder', () => {
  const conf = renderBackrestConf({ configFile: '/b/c', repoPath: '/b/repo', logPath: '/b/log', lockPath: '/b/lock', spoolPath: '/b/spool', nodes: [{ pgdata: '/d/n1', port: 1, socketDir: '/s' }, { pgdata: '/d/n2', port: 2, socketDir: '/s' }] },
    { fullSchedule: 'x', diffSchedule: 'y', drillSchedule: 'z', retentionFull: 4, retentionDiff: 7, repository: { type: 'posix' }, drill: { table: 't', minRows: 1 } }, 'secret');
  for (const line of ['repo1-path=/b/repo', 'repo1-retention-full=4', 'repo1-retention-diff=7', 'repo1-cipher-type=aes-256-cbc', 'compress-type=zst', 'pg1-path=/d/n1', 'pg2-port=2']) assert.ok(conf.includes(line), line);
  assert.match(renderArchiveConf('/usr/bin/pgbackrest', '/b/c'), /archive_command = '\/usr\/bin\/pgbackrest --config=\/b\/c --stanza=veza --pg1-path="\$\(pwd -P\)" archive-push %p'/);
  assert.deepEqual(restoreCommand('/drill'), ['--pg1-path=/drill', 'restore', '--type=default', '--archive-mode=off']);
  const info = readBackupInfo(JSON.stringify([{ name: 'veza', backup: [{ label: 'F1', type: 'full', timestamp: { start: 10, stop: 20 } }] }]));
  assert.ok(!(info instanceof Error));
  assert.deepEqual(info.map((b) => [b.label, b.stoppedAt.getTime()]), [['F1', 20_000]]);
  assert.deepEqual(readBackupInfo('[{"name":"veza","backup":[],"repo":[{"status":{"code":2,"message":"no valid backups"}}]}]'), []);
  const broken = readBackupInfo(JSON.stringify([{ name: 'veza', backup: [], repo: [{ status: { code: 99, message: "[CryptoError] unable to load info file 'backup.info':\nmore" } }] }]));
  assert.ok(broken instanceof Error && /CryptoError\] unable to load info file/.test(broken.message));
});

test('an S3 repository: refused without MinIO or with s3 keys on posix; its pgbackrest.conf lines, front, certificate and MinIO commands', () => {
  const ha = 'data:\n  postgres:\n    topology: ha\n    ha:\n      backup:\n';
  refused(`${ha}        repository: { type: s3 }\n`, /prod\.yaml:14: data\.postgres\.ha\.backup\.repository\.type: an s3 repository is a bucket of the environment's own MinIO.*add data\.minio, or use type: posix/);
  refused(`${ha}        repository: { bucket: b-backups }\n`, /prod\.yaml:14: data\.postgres\.ha\.backup\.repository\.bucket: bucket belongs to an s3 repository/);
  refused(`${ha}        repository: { type: s3, bucket: B_ }\n  minio: { passwordEnv: VEZA_MINIO_PASSWORD }\n`, /repository\.bucket: must be an S3 bucket name/);
  const e = env(`${ha}        repository: { type: s3 }\n  minio: { passwordEnv: VEZA_MINIO_PASSWORD }\n`);
  const repo = s3Repository(e, haSettings(e)!.backup)!;
  assert.deepEqual(repo, { bucket: 'veza-prod-pgbackrest', path: '/pgbackrest', tlsPort: 9443 });
  assert.equal(s3Repository(e, haSettings(env('data:\n  postgres:\n    topology: ha\n'))!.backup), undefined);

  const layout = { configFile: '/b/c', repoPath: '/unused', logPath: '/l', lockPath: '/k', spoolPath: '/s', nodes: [{ pgdata: '/d', port: 1, socketDir: '/s' }], s3: { ...repo, host: 'veza-prod-minio.incus', caFile: '/etc/pgbackrest/s3-ca.pem' } };
  assert.throws(() => renderBackrestConf(layout, haSettings(e)!.backup, 'cipher'), /needs its key/);
  const conf = renderBackrestConf(layout, haSettings(e)!.backup, 'cipher', 'KEY');
  for (const line of ['repo1-type=s3', 'repo1-path=/pgbackrest', 'repo1-s3-bucket=veza-prod-pgbackrest', 'repo1-s3-endpoint=veza-prod-minio.incus', 'repo1-storage-port=9443', 'repo1-s3-uri-style=path', 'repo1-s3-key=veza-pgbackrest', 'repo1-s3-key-secret=KEY', 'repo1-storage-ca-file=/etc/pgbackrest/s3-ca.pem', 'repo1-cipher-type=aes-256-cbc']) assert.ok(conf.split('\n').includes(line), line);
  assert.ok(!conf.includes('/unused'), 'no posix path with an S3 repository');

  // The key follows the root password, and is never the password itself.
  assert.equal(backupUserSecret('root-pass-1'), backupUserSecret('root-pass-1'));
  assert.notEqual(backupUserSecret('root-pass-1'), backupUserSecret('root-pass-2'));
  assert.ok(!backupUserSecret('root-pass-1').includes('root-pass-1'));
  const cmds = backupRepoCommands('bk-x', 'KEY');
  assert.ok(cmds.every((c) => !c.argv.join(' ').includes('KEY')), 'the key travels on stdin only');
  assert.equal(cmds.find((c) => c.argv.includes('user'))?.input, 'KEY\n');
  const policy = JSON.parse(backupPolicy('bk-x')) as { Statement: { Resource: string[] }[] };
  assert.deepEqual(policy.Statement.flatMap((s) => s.Resource), ['arn:aws:s3:::bk-x', 'arn:aws:s3:::bk-x/*'], 'that bucket and nothing else');

  // pgBackRest 2.45 checks an address endpoint against DNS names only.
  assert.match(tlsCertArgv('/k', '/c', ['127.79.1.31']).at(-1)!, /^subjectAltName=IP:127\.79\.1\.31,DNS:127\.79\.1\.31$/);
  assert.match(tlsCertArgv('/k', '/c', ['m.incus']).at(-1)!, /^subjectAltName=DNS:m\.incus$/);
  const front = renderTlsFront({ bind: '127.0.0.1', port: 9443, certFile: '/t/front.pem', backends: [{ host: 'a', port: 9000 }, { host: 'b', port: 9000 }] });
  assert.match(front, /bind 127\.0\.0\.1:9443 ssl crt \/t\/front\.pem/);
  assert.match(front, /server minio2 b:9000 check/);
  assert.doesNotMatch(renderTlsFront({ bind: '*', port: 1, certFile: '/c', backends: [{ host: 'a', port: 2 }] }), / check/, 'one node: nothing to route around');
});

test('drill metrics are written and read back; status prints ages', () => {
  const text = renderDrillMetrics({ env: 'prod', success: false, finishedAt: new Date(1_000_000), durationSeconds: 3, restoredRows: 0 });
  assert.equal(readSample(text, 'veza_backup_drill_success'), 0);
  assert.equal(readSample(text, 'veza_backup_drill_last_run_timestamp_seconds'), 1000);
  const now = new Date(Date.UTC(2026, 11, 3, 12));
  const lines = formatHaStatus('prod', {
    formation: readFormation([row('node1', 'primary'), row('node2', 'secondary')]),
    pools: [],
    backups: [{ label: 'F1', type: 'full', startedAt: now, stoppedAt: new Date(now.getTime() - 3 * 3600_000) }],
    lastDrill: { success: true, at: new Date(now.getTime() - 2 * 86_400_000) },
  }, now);
  assert.deepEqual([lines[0], lines.at(-2), lines.at(-1)], ['formation of prod: healthy', 'last backup: full F1, 3 h ago', 'last drill: passed, 2 days ago']);
});

test('the backup schedule as systemd timers: weekly full, daily diff, weekly drill, each its infra-data target; systemd accepts them', async (t) => {
  const backup = haSettings(env('data:\n  postgres:\n    topology: ha\n    ha:\n      backup: { diffSchedule: "*-*-* 03:30:00" }\n'))!.backup;
  const units = renderBackupTimers({ env: 'prod', backup, workspaceRoot: '/srv/veza', npx: '/usr/bin/npx' });
  assert.deepEqual(units.map((u) => [u.name, /^OnCalendar=(.*)$/m.exec(u.timer)?.[1], /^ExecStart=(.*)$/m.exec(u.service)?.[1]]), [
    ['veza-prod-backup-full', 'Sun *-*-* 02:00:00', '/usr/bin/npx nx run infra-data:backup --type=full --env=prod'],
    ['veza-prod-backup-diff', '*-*-* 03:30:00', '/usr/bin/npx nx run infra-data:backup --type=diff --env=prod'],
    ['veza-prod-drill', 'Sun *-*-* 04:00:00', '/usr/bin/npx nx run infra-data:drill --env=prod'],
  ]);
  for (const u of units) {
    assert.match(u.service, /^WorkingDirectory=\/srv\/veza$/m);
    assert.match(u.timer, /^Persistent=true$/m, 'a run missed while the machine was off runs at boot');
    assert.match(u.timer, /^RandomizedDelaySec=5min$/m, 'seed 001: every timer absorbs clock skew and collisions');
  }
  if (!(await verifyUnits(units))) t.skip('systemd-analyze is not installed');
});

test('the restore drill\'s overrides: its own address and socket, no archive, no standby to wait for, no pg_auto_failover', () => {
  assert.deepEqual(renderDrillOverrides({ host: '127.79.33.2', port: 25410, socketDir: '/d' }).split('\n'), [
    '# veza restore drill: a throw-away copy on its own address, archiving nothing, waiting for no standby.',
    "listen_addresses = '127.79.33.2'", 'port = 25410', "unix_socket_directories = '/d'",
    "synchronous_standby_names = ''", 'archive_mode = off', "shared_preload_libraries = ''", 'hot_standby = on', '',
  ]);
});

test('the runner\'s timers: the units a driver leaves to this machine, written where they differ, with the command that links them', () => {
  const backup = haSettings(env('data:\n  postgres:\n    topology: ha\n'))!.backup;
  const drill = runnerTimers('prod', backup, '/srv/veza', (name) => name === 'veza-prod-drill');
  assert.equal(drill.dir, '/srv/veza/.veza/envs/prod/timers');
  assert.deepEqual(drill.units.map((u) => u.name), ['veza-prod-drill']);
  assert.match(drill.units[0]!.service, /^ExecStart=.*\/npx nx run infra-data:drill --env=prod$/m);
  const fresh = runnerTimerSteps(drill, {}, false, "the restore drill's timer");
  assert.deepEqual(fresh.steps.map((x) => x.title), ['create /srv/veza/.veza/envs/prod/timers', "write the backup schedule's veza-prod-drill.service", "write the backup schedule's veza-prod-drill.timer"]);
  assert.deepEqual(fresh.notes, ["the restore drill's timer is in /srv/veza/.veza/envs/prod/timers; to run it: systemctl link /srv/veza/.veza/envs/prod/timers/veza-prod-drill.service /srv/veza/.veza/envs/prod/timers/veza-prod-drill.timer && systemctl enable --now veza-prod-drill.timer"]);
  const current = Object.fromEntries(runnerTimerFiles(drill).map((f) => [f.path, f.content]));
  assert.deepEqual(runnerTimerSteps(drill, current, true, 'x'), { steps: [], notes: [] }, 'nothing when they hold what is wanted');
  assert.equal(runnerTimers('prod', backup, '/srv/veza').units.length, 3, 'local keeps the whole schedule');
});
