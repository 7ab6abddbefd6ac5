import { test } from 'node:test';
import assert from 'node:assert/strict';
import { environmentSchema } from '../../config/environment';
import { registerSecret } from '../../log/redact';
import { formatPlan, type PlanStep } from '../plan';
import { snapshotsToPrune, type SnapshotInfo } from '../snapshots';
import { renderHba, renderVezaConf, parsePostmasterPid } from './pg-files';
import { localPgPaths, planProvision, planSnapshotPrune, type LocalPostgres, type PgState } from './postgres';

/** Pure plan tests: a made-up server and state, no binaries, nothing run. */
function server(opts: { root: boolean; retention?: number }): LocalPostgres {
  const env = environmentSchema.parse({
    name: 'plan', driver: 'local', prefix: 'veza-plan-', publicHosts: ['localhost'], publicUrl: 'http://localhost:1',
    edge: 'e', registry: { url: 'file:r', owner: 'veza' }, local: { subnet: '127.77.210' },
    retention: { history: 5, snapshots: opts.retention ?? 2 },
  });
  const paths = localPgPaths('/ws', 'plan');
  const settings = { host: '127.77.210.2', port: 5432, socketDir: paths.run };
  return { env, paths, binDir: '/pg/bin', serverUser: opts.root ? 'postgres' : undefined, settings, endpoint: { host: settings.host, port: 5432, user: 'veza', database: 'veza' }, retention: env.retention.snapshots };
}

const PASSWORD = 'generated-secret-value-xyz';
registerSecret(PASSWORD);

const fresh: PgState = { initialized: false, includesVezaConf: false, appReady: false, password: { value: PASSWORD, source: 'generated' }, snapshots: [], partials: [] };

function upToDate(pg: LocalPostgres): PgState {
  return { initialized: true, includesVezaConf: true, vezaConf: renderVezaConf(pg.settings), hba: renderHba(), running: { pid: 42, ...pg.settings }, appReady: true, password: { value: PASSWORD, source: 'file' }, snapshots: [], partials: [] };
}

const argvs = (steps: PlanStep[]) => steps.flatMap((s) => (s.kind === 'run' ? [s.command.argv] : []));

test('as root, initdb and pg_ctl run as the postgres user; psql and pg_dump do not need to', () => {
  const plan = planProvision(server({ root: true }), fresh);
  const runs = argvs(plan.steps);
  assert.deepEqual(runs.map((a) => (a[0] === 'runuser' ? `runuser ${a[4]!.split('/').pop()}` : a[0]!.split('/').pop())), ['chown', 'runuser test', 'runuser initdb', 'runuser pg_ctl', 'psql']);
  for (const a of runs.filter((x) => x[0] === 'runuser')) assert.deepEqual(a.slice(0, 4), ['runuser', '-u', 'postgres', '--']);
});

test('as an ordinary user nothing is wrapped or chowned', () => {
  const runs = argvs(planProvision(server({ root: false }), fresh).steps);
  assert.deepEqual(runs.map((a) => a[0]), ['/pg/bin/initdb', '/pg/bin/pg_ctl', '/pg/bin/psql']);
});

test('the password reaches neither argv nor the printed plan', () => {
  const plan = planProvision(server({ root: true }), fresh);
  for (const a of argvs(plan.steps)) assert.ok(!a.join(' ').includes(PASSWORD));
  const ensure = plan.steps.find((s) => s.kind === 'run' && s.command.input !== undefined);
  assert.ok(ensure && ensure.kind === 'run' && String(ensure.command.input).includes(PASSWORD), 'the SQL on stdin carries it');
  assert.ok(!formatPlan(plan).join('\n').includes(PASSWORD));
});

test('an up-to-date running server gives an empty plan; drift gives exactly the fix', () => {
  const pg = server({ root: false });
  const ok = planProvision(pg, upToDate(pg));
  assert.deepEqual(ok.steps, []);
  assert.match(ok.summary, /nothing to do$/);

  const drifted = planProvision(pg, { ...upToDate(pg), hba: 'host all all 0.0.0.0/0 trust\n' });
  assert.deepEqual(drifted.steps.map((s) => s.title), ['write pg_hba.conf (socket: trust, TCP: password)', 'check that postgres accepts the new settings of plan', 'stop postgres of plan', 'start postgres of plan on 127.77.210.2:5432']);
  assert.deepEqual(drifted.rollback?.map((s) => s.title), ['restore the previous veza.conf', 'restore the previous pg_hba.conf', 'restart postgres of plan on its previous settings'], 'a failed restart puts the previous file back');
});

test('snapshot planning: retention 0 disables, an existing snapshot is kept, taking one prunes nothing, pruning spares the kept releases', () => {
  const release = 'c'.repeat(40);
  const off = planProvision(server({ root: false, retention: 0 }), upToDate(server({ root: false })), { release });
  assert.deepEqual(off.steps, []);
  assert.match(off.notes.join(), /snapshots are off/);

  const pg = server({ root: false, retention: 2 });
  const snap = (r: string, t: number): SnapshotInfo => ({ name: `pre-deploy-${r}`, release: r, path: `/s/pre-deploy-${r}.dump`, size: 1, createdAt: new Date(t) });
  const existing = [snap('a'.repeat(40), 1), snap('b'.repeat(40), 2)];
  const plan = planProvision(pg, { ...upToDate(pg), snapshots: existing }, { release });
  assert.deepEqual(plan.steps.map((s) => s.kind), ['mkdir', 'run', 'rename'], 'taking a snapshot never prunes one: only a deploy that succeeded does');
  assert.doesNotMatch(plan.summary, /nothing to do/);
  assert.deepEqual(planSnapshotPrune(pg, [...existing, snap(release, 3)], [release]).map((s) => (s as { path: string }).path), [existing[0]!.path]);

  // Re-deploying an old release keeps its (oldest) snapshot and prunes the others instead.
  assert.deepEqual(snapshotsToPrune([...existing, snap(release, 3)], ['a'.repeat(40)], 2).map((s) => s.release), ['b'.repeat(40)]);
  // Retention 1 still keeps both the live and the previous release.
  assert.deepEqual(snapshotsToPrune([...existing, snap(release, 3)], [release, 'a'.repeat(40)], 1).map((s) => s.release), ['b'.repeat(40)]);
});

test('postmaster.pid is read for pid, port, socket and listen address', () => {
  const text = '4242\n/ws/data/postgres\n1700000000\n5432\n/ws/data/run\n127.77.1.2\n  5432001   0\nready   \n';
  assert.deepEqual(parsePostmasterPid(text), { pid: 4242, port: 5432, socketDir: '/ws/data/run', host: '127.77.1.2' });
  assert.equal(parsePostmasterPid(''), undefined);
});
