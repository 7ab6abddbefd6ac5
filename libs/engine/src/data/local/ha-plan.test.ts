import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { environmentSchema } from '../../config/environment';
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
