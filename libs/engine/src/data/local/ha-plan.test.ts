import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { environmentSchema } from '../../config/environment';
import { autoctlConfigFile, monitorFailoverSettings } from '../ha/formation';
import { renderArchiveConf } from '../ha/pgbackrest';
import { haLayout, planHaProvision, type HaState } from './ha';

/** The HA provision plan for a made-up state: the machine's binaries are looked up, nothing runs. */
const env = environmentSchema.parse({
  name: 'plan', driver: 'local', prefix: 'veza-plan-', publicHosts: ['localhost'], publicUrl: 'http://localhost:1', edge: 'e',
  registry: { url: 'file:r', owner: 'veza' }, local: { subnet: '127.79.97' }, data: { postgres: { topology: 'ha' } },
});

test('provision rewrites an archive_command bound to the first node on every node, and reloads the running ones', () => {
  const l = haLayout(env, '/ws');
  const conf = (i: number) => join(l.nodes[i]!.pgdata, 'veza-archive.conf');
  const older = "archive_mode = on\narchive_command = '/usr/bin/pgbackrest --config=/c --stanza=veza archive-push %p'\n";
  const state = (files: Record<string, string>): HaState => ({
    missingFolders: [], monitorInitialized: true, nodesInitialized: [true, true],
    running: { monitor: true, nodes: [true, false], pgbouncer: true, follower: true },
    password: { value: 'p'.repeat(24), source: 'file' }, cipherPass: { value: 'c'.repeat(24), generated: false },
    files, appReady: true, stanzaExists: true,
  });
  const archiveSteps = (s: HaState) => planHaProvision(l, s).steps.map((x) => x.title).filter((x) => /veza-archive\.conf|reload node/.test(x));
  assert.deepEqual(archiveSteps(state({ [conf(0)]: older, [conf(1)]: older })), ['rewrite veza-archive.conf of node1', "reload node1's settings", 'rewrite veza-archive.conf of node2']);
  const current = renderArchiveConf('/usr/bin/pgbackrest', l.backrest.configFile);
  assert.deepEqual(archiveSteps(state({ [conf(0)]: current, [conf(1)]: current })), []);
  assert.match(current, /--pg1-path="\$\(pwd -P\)" archive-push %p/, 'the same file serves whichever node is primary');
});

test('provision sets the failover timing where the monitor or a keeper\'s config differs, and nothing once they hold it', () => {
  const l = haLayout(env, '/ws');
  const cfg = (n: number) => `[pg_autoctl]\nrole = keeper\n\n[timeout]\nnetwork_partition_timeout = ${n}\nprepare_promotion_catchup = 30\n`;
  const state = (monitorSettings: Record<string, string> | undefined, partition: number[]): HaState => ({
    missingFolders: [], monitorInitialized: true, nodesInitialized: [true, true],
    running: { monitor: true, nodes: [true, true], pgbouncer: true, follower: true },
    password: { value: 'p'.repeat(24), source: 'file' }, cipherPass: { value: 'c'.repeat(24), generated: false },
    files: Object.fromEntries(l.nodes.map((n, i) => [autoctlConfigFile(l.autoctl, n.pgdata), cfg(partition[i]!)])), appReady: true, stanzaExists: true, monitorSettings,
  });
  const timing = (s: HaState) => planHaProvision(l, s).steps.filter((x) => /failover timing|partition timeout/.test(x.title));
  const want = monitorFailoverSettings(l.ha.failover);
  const fresh = timing(state(undefined, [20, 20]));
  assert.deepEqual(fresh.map((x) => x.title), [
    "set the monitor's failover timing (health_check_period, health_check_timeout, health_check_retry_delay, node_considered_unhealthy_timeout, primary_demote_timeout)",
    "set node1's network partition timeout to 10 s", "set node2's network partition timeout to 10 s",
  ]);
  const [monitor, node1] = fresh.map((x) => (x.kind === 'run' ? x.command : undefined));
  assert.ok(monitor!.argv.includes(String(l.monitor.port)) && /ALTER SYSTEM SET pgautofailover\.primary_demote_timeout = '15000';/.test(String(monitor!.input)));
  assert.deepEqual(node1!.argv.slice(node1!.argv.indexOf('pg_autoctl')), ['pg_autoctl', 'config', 'set', '--pgdata', l.nodes[0]!.pgdata, 'timeout.network_partition_timeout', '10']);
  assert.deepEqual(timing(state(want, [10, 10])), []);
  assert.deepEqual(timing(state(want, [10, 20])).map((x) => x.title), ["set node2's network partition timeout to 10 s"]);
});
