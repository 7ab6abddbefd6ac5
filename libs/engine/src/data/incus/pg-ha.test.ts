import { test } from 'node:test';
import assert from 'node:assert/strict';
import { environmentSchema, haSettings, type Environment } from '../../config/environment';
import { IncusClient } from '../../hosts/incus/client';
import { incusSettings } from '../../hosts/incus/host';
import { createRecordingRunner } from '../../ports/process';
import { monitorFailoverSettings, readFormation, runArgs } from '../ha/formation';
import { renderBackrestConf } from '../ha/pgbackrest';
import { renderPgbouncerIni } from '../ha/pgbouncer';
import type { PlanStep } from '../plan';
import { shellScript } from '../../util/shell-script';
import { backupTimers, incusPgHa, keeperUnit, planPgHa, type IncusPgMember, type PgHaContainerState, type PgHaState } from './pg-ha';
import { dataContainers, sha256, type PlanContext } from './services';

const PASSWORD = 'pg-Secret-$2!';

function env(ha?: object): Environment {
  return environmentSchema.parse({
    name: 'staging', driver: 'incus', prefix: 'veza-staging-', publicHosts: ['staging.veza.fr'], publicUrl: 'https://staging.veza.fr', edge: 'veza-haproxy',
    registry: { url: 'https://git.example/api/packages', owner: 'talas' },
    data: { postgres: { passwordEnv: 'T_PG', topology: 'ha', ...(ha ? { ha } : {}) } },
  });
}

function setup() {
  const e = env();
  const settings = incusSettings(e);
  const ctx: PlanContext = { env: e, settings, pool: 'fast', client: new IncusClient(createRecordingRunner(), 'default'), secrets: { postgres: PASSWORD } };
  return { e, ctx, h: incusPgHa(e, settings, haSettings(e)!) };
}

const titles = (steps: PlanStep[]) => steps.map((s) => s.title);
const runs = (steps: PlanStep[]) => steps.flatMap((s) => (s.kind === 'run' ? [s.command] : []));
const absent: PgHaContainerState = { exists: false, running: false, facts: {} };
const nothing: PgHaState = { monitor: absent, nodes: [absent, absent], pgbouncer: absent, appReady: false, cipherPass: 'cipher-Secret-1', stanzaExists: false };

function written(steps: PlanStep[], title: string): { content: string; target: string[] } {
  const step = steps.find((s) => s.title === title);
  assert.ok(step && step.kind === 'run', `no step ${title}`);
  return { content: String(step.command.input), target: step.command.argv.slice(-4) };
}

test('pg ha on incus from nothing: containers, then the monitor, node 1 registered as primary before node 2, the settle wait, the app role, PgBouncer', () => {
  const { ctx, h } = setup();
  const { steps, again } = planPgHa(ctx, h, nothing);
  assert.equal(again, undefined);
  const container = (ct: string, pkgs: string) => [`create ${ct} (never destroyed by the pipeline)`, `wait for ${ct} to boot`, `install ${pkgs} in ${ct}`];
  const members = 'postgresql-17-auto-failover, pg-auto-failover-cli';
  const nodes = `${members}, pgbackrest`;
  const backrest = (ct: string) => [`mount the repository into ${ct}`, `hand the repository to postgres in ${ct}`, `write ${ct}'s pgbackrest.conf (repository passphrase)`];
  const keeper = (ct: string, what: string) => [`write ${ct}'s veza-pg-autoctl.service (${what})`, `reload systemd in ${ct}`, `restart veza-pg-autoctl in ${ct}`];
  const drop = (ct: string) => `drop Debian's default cluster in ${ct} (the port is the formation's)`;
  const initdb = (ct: string, dir: string, name: string) => [drop(ct), `create ${ct}:${dir}`, `initdb ${name} in ${ct}`, `write ${ct}'s pg_hba.conf (pg_auto_failover's roles from the bridge, every other role by password)`];
  assert.deepEqual(titles(steps), [
    ...container('veza-staging-pg-monitor', members), ...container('veza-staging-pg-1', nodes), ...container('veza-staging-pg-2', nodes),
    ...container('veza-staging-pgbouncer', 'pgbouncer, postgresql-client'),
    'create the repository /var/lib/veza/pgbackrest/staging on the Incus host',
    ...initdb('veza-staging-pg-monitor', '/var/lib/postgresql/veza/monitor', 'monitor'), ...keeper('veza-staging-pg-monitor', 'create and run'), 'wait for the monitor in veza-staging-pg-monitor',
    ...initdb('veza-staging-pg-1', '/var/lib/postgresql/veza/node', 'node1'), ...backrest('veza-staging-pg-1'),
    "write veza-staging-pg-1's veza-archive.conf (WAL archive into pgBackRest)", "include veza-archive.conf from veza-staging-pg-1's postgresql.conf", ...keeper('veza-staging-pg-1', 'create and run'), 'wait for node1 to register as the primary',
    drop('veza-staging-pg-2'), 'create veza-staging-pg-2:/var/lib/postgresql/veza/node', ...backrest('veza-staging-pg-2'), ...keeper('veza-staging-pg-2', 'create and run'),
    'wait for the formation to settle',
    ...['veza-staging-pg-monitor', 'veza-staging-pg-1', 'veza-staging-pg-2'].flatMap((ct) => [`write ${ct}'s veza-pg-autoctl.service (run)`, `reload systemd in ${ct}`]),
    "set the monitor's failover timing (health_check_period, health_check_timeout, health_check_retry_delay, node_considered_unhealthy_timeout, primary_demote_timeout)",
    "set node1's network partition timeout to 10 s", "set node2's network partition timeout to 10 s",
    'ensure role veza and database veza on the primary (veza-staging-pg-1)',
    'create the pgBackRest stanza in /var/lib/veza/pgbackrest/staging (from the primary, veza-staging-pg-1)',
    ...['veza-staging-pg-1', 'veza-staging-pg-2'].flatMap((ct) => [
      ...['veza-backup-if-primary', 'veza-backup-full.service', 'veza-backup-full.timer', 'veza-backup-diff.service', 'veza-backup-diff.timer'].map((f) => `write ${ct}'s ${f}`),
      `reload systemd in ${ct}`, `enable the backup timers in ${ct}`,
    ]),
    'create veza-staging-pgbouncer:/var/lib/veza-pgbouncer', 'point PgBouncer at the primary (veza-staging-pg-1.incus)',
    'create veza-staging-pgbouncer:/etc/systemd/system/pgbouncer.service.d', "write veza-staging-pgbouncer's pgbouncer.service limits (2260 open files)", 'reload systemd in veza-staging-pgbouncer',
    "write veza-staging-pgbouncer's pgbouncer.ini (transaction pooling, 50 server connections)",
    "write veza-staging-pgbouncer's PgBouncer hba file (the app role by password, the admin console on the socket only)",
    "write veza-staging-pgbouncer's PgBouncer userlist (role veza)",
    'restart pgbouncer in veza-staging-pgbouncer',
    "write veza-staging-pgbouncer's primary follower", "write veza-staging-pgbouncer's veza-pgbouncer-follower.service", 'reload systemd in veza-staging-pgbouncer', 'restart veza-pgbouncer-follower in veza-staging-pgbouncer',
    'wait for veza to log in through PgBouncer',
  ]);

  const unit = written(steps, "write veza-staging-pg-2's veza-pg-autoctl.service (create and run)");
  assert.deepEqual(unit.target, ['/etc/systemd/system', 'veza-pg-autoctl.service', 'root:root', '0644']);
  const lines = unit.content.split('\n');
  for (const line of ['User=postgres', 'Restart=always', 'RuntimeDirectory=veza-pg-autoctl', 'Environment=XDG_RUNTIME_DIR=/run/veza-pg-autoctl', 'WantedBy=multi-user.target']) assert.ok(lines.includes(line), line);
  assert.ok(lines.includes('ExecStart=/usr/bin/pg_autoctl create postgres --pgdata /var/lib/postgresql/veza/node --pgport 5432 --hostname veza-staging-pg-2.incus --listen * --name node2 '
    + '--monitor postgres://autoctl_node@veza-staging-pg-monitor.incus:5432/pg_auto_failover?sslmode=disable --dbname veza --skip-pg-hba --no-ssl --ssl-mode disable --run'), unit.content);
  assert.match(written(steps, "write veza-staging-pg-monitor's veza-pg-autoctl.service (create and run)").content, /^ExecStart=\/usr\/bin\/pg_autoctl create monitor .*--hostname veza-staging-pg-monitor\.incus .* --run$/m);
  assert.match(written(steps, "write veza-staging-pg-1's veza-pg-autoctl.service (run)").content, /^ExecStart=\/usr\/bin\/pg_autoctl run --pgdata \/var\/lib\/postgresql\/veza\/node$/m);
  assert.match(written(steps, "write veza-staging-pg-1's pg_hba.conf (pg_auto_failover's roles from the bridge, every other role by password)").content, /^host +replication +pgautofailover_replicator +samenet +trust$/m);

  const ini = written(steps, "write veza-staging-pgbouncer's pgbouncer.ini (transaction pooling, 50 server connections)");
  assert.deepEqual(ini.target, ['/etc/pgbouncer', 'pgbouncer.ini', 'postgres:postgres', '0640']);
  assert.equal(ini.content, renderPgbouncerIni(h.pgbouncer, h.ha.pgbouncer), 'the local tier\'s renderer');
  assert.match(ini.content, /^%include \/var\/lib\/veza-pgbouncer\/databases\.ini$/m);
  assert.equal(written(steps, 'point PgBouncer at the primary (veza-staging-pg-1.incus)').content, '[databases]\nveza = host=veza-staging-pg-1.incus port=5432 dbname=veza\n');
  const limits = written(steps, "write veza-staging-pgbouncer's pgbouncer.service limits (2260 open files)");
  assert.deepEqual(limits.target, ['/etc/systemd/system/pgbouncer.service.d', 'veza-limits.conf', 'root:root', '0644']);
  assert.match(limits.content, /^\[Service\]\nLimitNOFILE=2260$/m, 'the seed\'s 1000 clients and their pool, twice over: above systemd\'s soft 1024');
  const userlist = written(steps, "write veza-staging-pgbouncer's PgBouncer userlist (role veza)");
  assert.deepEqual(userlist.target, ['/etc/pgbouncer', 'userlist.txt', 'postgres:postgres', '0600']);
  assert.ok(userlist.content.includes(PASSWORD));
  assert.match(written(steps, "write veza-staging-pgbouncer's primary follower").content, /postgres:\/\/autoctl_node@veza-staging-pg-monitor\.incus:5432\/pg_auto_failover/);
  const timer = written(steps, "write veza-staging-pg-2's veza-backup-diff.service");
  assert.match(timer.content, /^ExecStart=\/bin\/sh \/usr\/local\/bin\/veza-backup-if-primary 5432 diff$/m, 'every node runs the job; only the primary backs up');
  assert.match(written(steps, "write veza-staging-pg-2's veza-backup-full.timer").content, /^OnCalendar=Sun \*-\*-\* 02:00:00\nRandomizedDelaySec=5min$/m);
  const repo = runs(steps).find((c) => c.description === 'add disk device pgbackrest to veza-staging-pg-2');
  assert.deepEqual(repo?.argv.slice(1), ['config', 'device', 'add', 'veza-staging-pg-2', 'pgbackrest', 'disk', 'source=/var/lib/veza/pgbackrest/staging', 'path=/var/lib/pgbackrest', 'shift=true', '--project', 'default']);
  const backrestConf = written(steps, "write veza-staging-pg-2's pgbackrest.conf (repository passphrase)");
  assert.deepEqual(backrestConf.target, ['/etc', 'pgbackrest.conf', 'postgres:postgres', '0600']);
  assert.match(backrestConf.content, /^repo1-path=\/var\/lib\/pgbackrest$/m);
  assert.match(backrestConf.content, /^pg1-path=\/var\/lib\/postgresql\/veza\/node$/m, 'each node backs up and archives its own cluster');
  assert.match(written(steps, "write veza-staging-pg-1's veza-archive.conf (WAL archive into pgBackRest)").content, /--config=\/etc\/pgbackrest\.conf --stanza=veza --pg1-path="\$\(pwd -P\)" archive-push %p/);
  for (const c of runs(steps)) assert.ok(!c.argv.some((a) => a.includes('pg-Secret') || a.includes('cipher-Secret')), `a secret reached argv: ${c.argv.join(' ')}`);
  assert.match(String(runs(steps).find((c) => c.description === 'create the app role and database')?.input), /pg-Secret/, 'the role\'s password goes on stdin');
});

function converged(h: ReturnType<typeof setup>['h'], primary = 'node1'): PgHaState {
  const member = (m: { name: string; pgdata: string }): PgHaContainerState => ({ exists: true, running: true, facts: {
    installed: '1', 'unit:veza-pg-autoctl': 'active', '/etc/systemd/system/veza-pg-autoctl.service': sha256(keeperUnit(m.name, runArgs(m.pgdata))), [`${m.pgdata}/PG_VERSION`]: 'x', [`${m.pgdata}/pg_hba.conf`]: 'x',
    '/etc/postgresql/17/main/postgresql.conf': '',
    ...(m === h.monitor ? {} : {
      '/usr/bin/pgbackrest': 'x', 'mount:/var/lib/pgbackrest': '1', [`setting:network_partition_timeout@/var/lib/postgresql/veza/xdg/config/pg_autoctl${m.pgdata}/pg_autoctl.cfg`]: '10', '/etc/pgbackrest.conf': sha256(renderBackrestConf(h.backrest, h.ha.backup, 'cipher-Secret-1')),
      '/usr/local/bin/veza-backup-if-primary': sha256(`${shellScript('data/incus/scripts/backup-if-primary.sh')}\n`),
      ...Object.fromEntries(backupTimers(h, m as IncusPgMember).flatMap((u) => [[`/etc/systemd/system/${u.name}.service`, sha256(u.service)], [`/etc/systemd/system/${u.name}.timer`, sha256(u.timer)], [`unit:${u.name}.timer`, 'active']])),
    }),
  } });
  const f = readFormation(h.nodes.map((n) => ({ nodename: n.name, nodehost: n.host, nodeport: 5432, reportedstate: n.name === primary ? 'primary' : 'secondary', goalstate: n.name === primary ? 'primary' : 'secondary', health: 1, reportedlsn: '0/3000000' })));
  const pgb = { exists: true, running: true, facts: { installed: '1', 'unit:pgbouncer': 'active', 'unit:veza-pgbouncer-follower': 'active', [h.pgbouncer.databasesFile]: 'x' } as Record<string, string> };
  return { monitor: member(h.monitor), nodes: h.nodes.map(member), pgbouncer: pgb, formation: f, syncStandbys: 0, monitorSettings: monitorFailoverSettings(h.ha.failover), appReady: true, cipherPass: 'cipher-Secret-1', stanzaExists: true };
}

test('pg ha on incus as wanted, even after a failover: the files are compared, nothing is planned', () => {
  const { ctx, h } = setup();
  const st = converged(h, 'node2');
  // PgBouncer's files as the plan would write them.
  const first = planPgHa(ctx, h, st);
  const pgbFiles = ['pgbouncer.service limits', "pgbouncer.ini", 'hba file', 'userlist', 'primary follower', 'follower.service'];
  assert.ok(pgbFiles.every((f) => titles(first.steps).some((t) => t.includes(f))), titles(first.steps).join('\n'));
  for (const s of first.steps) {
    if (s.kind === 'run' && s.command.input !== undefined && s.title.startsWith("write veza-staging-pgbouncer's")) st.pgbouncer.facts[`${s.command.argv.at(-4)}/${s.command.argv.at(-3)}`] = sha256(String(s.command.input));
  }
  assert.deepEqual(titles(planPgHa(ctx, h, st).steps), [], 'the follower owns the database line: a failover rewrites nothing');
  // A keeper that stopped is restarted, a PgBouncer that stopped too, each followed by its wait.
  st.nodes[0]!.facts['unit:veza-pg-autoctl'] = 'failed';
  st.pgbouncer.facts['unit:pgbouncer'] = 'inactive';
  assert.deepEqual(titles(planPgHa(ctx, h, st).steps), ['restart veza-pg-autoctl in veza-staging-pg-1', 'wait for the formation to settle', 'restart pgbouncer in veza-staging-pgbouncer', 'wait for veza to log in through PgBouncer']);
});

test('a stopped member container is started and the rest planned again from what it holds; Debian\'s own cluster is dropped before a member is created', () => {
  const { ctx, h } = setup();
  const st = converged(h);
  const stopped = planPgHa(ctx, h, { ...st, nodes: [{ exists: true, running: false, facts: {} }, st.nodes[1]!] });
  assert.equal(stopped.again, true);
  assert.deepEqual(titles(stopped.steps), ['start veza-staging-pg-1', 'wait for veza-staging-pg-1 to boot', 'install postgresql-17-auto-failover, pg-auto-failover-cli, pgbackrest in veza-staging-pg-1']);
  // On a member that exists, only when Debian's cluster is there.
  const withCluster = { ...st, nodes: [{ ...st.nodes[0]!, facts: { ...st.nodes[0]!.facts, '/etc/postgresql/17/main/postgresql.conf': 'x' } }, st.nodes[1]!] };
  const drop = runs(planPgHa(ctx, h, withCluster).steps).filter((c) => c.description?.startsWith("drop Debian's default cluster"));
  assert.deepEqual(drop.map((c) => [c.description, c.argv.at(-1)]), [["drop Debian's default cluster in veza-staging-pg-1", '17']]);
});

test('pg ha on incus: the data containers are the formation\'s and PgBouncer\'s; sync standbys set on the monitor when they differ', () => {
  const { e, ctx, h } = setup();
  assert.deepEqual(dataContainers(e), ['veza-staging-pg-monitor', 'veza-staging-pg-1', 'veza-staging-pg-2', 'veza-staging-pgbouncer']);
  const three = env({ nodes: 3, syncStandbys: 1 });
  const h3 = incusPgHa(three, incusSettings(three), haSettings(three)!);
  const st = converged(h3);
  const plan = planPgHa({ ...ctx, env: three }, h3, st);
  assert.deepEqual(titles(plan.steps).filter((x) => x.startsWith('set number')), ['set number-sync-standbys to 1']);
  assert.equal(h.endpoint.host, 'veza-staging-pgbouncer.incus');
});

test('pg ha on incus: the failover timing — the monitor\'s settings with ALTER SYSTEM and a reload when one differs, each keeper\'s partition timeout through pg_autoctl as postgres', () => {
  const { ctx, h } = setup();
  const st = converged(h);
  st.monitorSettings = { ...st.monitorSettings, 'pgautofailover.primary_demote_timeout': '30000' };
  st.nodes[1]!.facts[`setting:network_partition_timeout@/var/lib/postgresql/veza/xdg/config/pg_autoctl${h.nodes[1]!.pgdata}/pg_autoctl.cfg`] = '20';
  // PgBouncer's files are left out of `converged` (the test above compares them).
  const steps = planPgHa(ctx, h, st).steps.filter((s) => s.title.startsWith('set '));
  assert.deepEqual(titles(steps), ["set the monitor's failover timing (primary_demote_timeout)", "set node2's network partition timeout to 10 s"]);
  const [monitor, keeper] = runs(steps);
  assert.deepEqual(monitor!.argv.slice(1, 4), ['exec', 'veza-staging-pg-monitor', '--project']);
  assert.equal(monitor!.input, [
    "ALTER SYSTEM SET pgautofailover.health_check_period = '2000';", "ALTER SYSTEM SET pgautofailover.health_check_timeout = '2000';",
    "ALTER SYSTEM SET pgautofailover.health_check_retry_delay = '1000';", "ALTER SYSTEM SET pgautofailover.node_considered_unhealthy_timeout = '10000';",
    "ALTER SYSTEM SET pgautofailover.primary_demote_timeout = '15000';", 'SELECT pg_reload_conf();', '',
  ].join('\n'));
  assert.deepEqual(keeper!.argv.slice(keeper!.argv.indexOf('--') + 1).filter((a) => !a.includes('=')), ['runuser', '-u', 'postgres', '--', 'env', 'pg_autoctl', 'config', 'set', '--pgdata', '/var/lib/postgresql/veza/node', 'timeout.network_partition_timeout', '10']);
  // An environment's own timing reaches both, on a formation running the defaults.
  const slow = env({ failover: { unhealthySeconds: 20, demoteSeconds: 30, networkPartitionSeconds: 20 } });
  const hs = incusPgHa(slow, incusSettings(slow), haSettings(slow)!);
  const plan = planPgHa({ ...ctx, env: slow }, hs, converged(h));
  assert.deepEqual(titles(plan.steps).filter((t) => t.startsWith('set ')), ["set the monitor's failover timing (node_considered_unhealthy_timeout, primary_demote_timeout)", "set node1's network partition timeout to 20 s", "set node2's network partition timeout to 20 s"]);
});

test('pg ha on incus with an S3 repository: planned once the front has its certificate; the nodes trust it, mount nothing, and hold the backup user\'s key; the stanza is recorded in the front\'s container', () => {
  const e = environmentSchema.parse({
    name: 'staging', driver: 'incus', prefix: 'veza-staging-', publicHosts: ['staging.veza.fr'], publicUrl: 'https://staging.veza.fr', edge: 'veza-haproxy',
    registry: { url: 'https://git.example/api/packages', owner: 'talas' },
    data: { postgres: { passwordEnv: 'T_PG', topology: 'ha', ha: { backup: { repository: { type: 's3' } } } }, minio: { passwordEnv: 'T_MINIO' } },
  });
  const settings = incusSettings(e);
  const ctx: PlanContext = { env: e, settings, pool: 'fast', client: new IncusClient(createRecordingRunner(), 'default'), secrets: { postgres: PASSWORD, minio: 'minio-Root-Secret-9' } };
  const h = incusPgHa(e, settings, haSettings(e)!);
  assert.deepEqual(h.backrest.s3, { bucket: 'veza-staging-pgbackrest', path: '/pgbackrest', tlsPort: 9443, host: 'veza-staging-minio.incus', caFile: '/etc/pgbackrest-minio-ca.pem' });

  const waiting = planPgHa(ctx, h, nothing);
  assert.equal(waiting.again, true, 'nothing of the formation before the front has a certificate');
  assert.ok(titles(waiting.steps).every((x) => /^(create|wait for|install) /.test(x)), titles(waiting.steps).join('\n'));

  const PEM = '-----BEGIN CERTIFICATE-----\nfront\n-----END CERTIFICATE-----\n';
  const { steps, again } = planPgHa(ctx, h, { ...nothing, frontCert: PEM });
  assert.equal(again, undefined);
  assert.ok(!titles(steps).some((x) => x.startsWith('mount the repository') || x.startsWith('create the repository')), 'no host folder');
  const ca = written(steps, "give veza-staging-pg-1 the TLS front's certificate (pgBackRest's CA)");
  assert.deepEqual([ca.content, ...ca.target], [PEM, '/etc', 'pgbackrest-minio-ca.pem', 'root:root', '0644']);
  const conf = written(steps, "write veza-staging-pg-2's pgbackrest.conf (repository passphrase)").content;
  assert.match(conf, /^repo1-s3-endpoint=veza-staging-minio\.incus$/m);
  assert.match(conf, /^repo1-storage-ca-file=\/etc\/pgbackrest-minio-ca\.pem$/m);
  assert.ok(!conf.includes('minio-Root-Secret-9'), "the nodes hold the backup user's key, not MinIO's root password");
  const stanza = titles(steps).indexOf('create the pgBackRest stanza in s3://veza-staging-pgbackrest/pgbackrest (MinIO\'s TLS front veza-staging-minio.incus:9443) (from the primary, veza-staging-pg-1)');
  assert.ok(stanza > 0, titles(steps).join('\n'));
  const stamp = written(steps, 'record where the stanza was made');
  assert.deepEqual(stamp.target, ['/etc', 'veza-pgbackrest-stanza', 'root:root', '0644']);
  assert.deepEqual(runs(steps).find((c) => c.input === stamp.content)?.argv.slice(1, 3), ['exec', 'veza-staging-minio'], "in the front's container");
  for (const c of runs(steps)) assert.ok(!c.argv.some((a) => a.includes('Secret')), `a secret reached argv: ${c.argv.join(' ')}`);
});
