import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isVezaError } from '../../log/errors';
import * as cli from './cli';

const P = { project: 'veza-itest' };

function refused(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (e: unknown) => isVezaError(e) && e.code === 'INVALID_INPUT' && message.test(e.message) && e.hint.length > 0);
}

test('launch names the image, the profiles, the network, the pool and the labels, sorted', () => {
  const c = cli.launch(P, { image: 'images:debian/13', name: 'veza-staging-api-blue', profiles: ['veza-app'], network: 'net-veza', pool: 'data', config: { 'user.veza.role': 'blue', 'user.veza.env': 'staging' } });
  assert.deepEqual(c.argv, ['incus', 'launch', 'images:debian/13', 'veza-staging-api-blue', '--quiet', '--profile', 'veza-app', '--network', 'net-veza', '--storage', 'data',
    '--config', 'user.veza.env=staging', '--config', 'user.veza.role=blue', '--project', 'veza-itest']);
  assert.equal(c.input, '', 'stdin is closed: incus launch reads YAML from a stdin that is not a terminal');
});

test('every command names its project; the global ones name none', () => {
  assert.deepEqual(cli.deleteInstance(P, 'x1').argv, ['incus', 'delete', 'x1', '--force', '--project', 'veza-itest']);
  assert.deepEqual(cli.listInstances({ project: 'default' }).argv, ['incus', 'list', '--format', 'json', '--project', 'default']);
  assert.deepEqual(cli.listProjects().argv, ['incus', 'project', 'list', '--format', 'json']);
  assert.deepEqual(cli.projectCreate('veza-itest').argv, ['incus', 'project', 'create', 'veza-itest',
    '--config', 'features.images=false', '--config', 'features.profiles=true', '--config', 'features.networks=false', '--config', 'features.storage.volumes=false']);
  assert.deepEqual(cli.serverInfo().argv, ['incus', 'query', '/1.0']);
});

test('exec: --cwd, --env, --user/--group before --, the command after; stdin disabled unless there is input', () => {
  const c = cli.exec(P, 'ct', ['node', 'migrate.js', '--up'], { cwd: '/srv/veza/app', env: { LANG: 'C.UTF-8', A: '1' }, uid: 10000, gid: 10000 });
  assert.deepEqual(c.argv, ['incus', 'exec', 'ct', '--disable-stdin', '--cwd', '/srv/veza/app', '--env', 'A=1', '--env', 'LANG=C.UTF-8', '--user', '10000', '--group', '10000', '--project', 'veza-itest', '--', 'node', 'migrate.js', '--up']);
  const fed = cli.exec(P, 'ct', ['cat'], { input: 'secret' });
  assert.ok(!fed.argv.includes('--disable-stdin'));
  assert.equal(fed.input, 'secret');
  assert.ok(!fed.argv.some((a) => a.includes('secret')), 'input never reaches argv');
});

test('file push: uid, gid, mode, parent directories; "-" reads stdin', () => {
  assert.deepEqual(cli.filePush(P, 'ct', '/tmp/a.tar.zst', '/var/lib/veza/artifact.tar.zst', { uid: 0, gid: 0, mode: '0600' }).argv,
    ['incus', 'file', 'push', '/tmp/a.tar.zst', 'ct/var/lib/veza/artifact.tar.zst', '--uid', '0', '--gid', '0', '--mode', '0600', '--create-dirs', '--quiet', '--project', 'veza-itest']);
  const fromStdin = cli.filePush(P, 'ct', '-', '/etc/x', { uid: 1, gid: 2, mode: '0644' }, 'content');
  assert.equal(fromStdin.argv[3], '-');
  assert.equal(fromStdin.input, 'content');
  refused(() => cli.filePush(P, 'ct', '-', '/etc/x', { uid: 0, gid: 0, mode: '777' }), /invalid file mode/);
});

test('snapshots, profiles, devices, pools', () => {
  assert.deepEqual(cli.snapshotCreate(P, 'pg', 'pre-deploy-' + 'a'.repeat(40)).argv.slice(0, 5), ['incus', 'snapshot', 'create', 'pg', 'pre-deploy-' + 'a'.repeat(40)]);
  assert.deepEqual(cli.snapshotDelete(P, 'pg', 'pre-deploy-x').argv.slice(0, 5), ['incus', 'snapshot', 'delete', 'pg', 'pre-deploy-x']);
  assert.deepEqual(cli.snapshotList(P, 'pg').argv.slice(0, 6), ['incus', 'snapshot', 'list', 'pg', '--format', 'json']);
  assert.deepEqual(cli.profileRootDiskAdd(P, 'veza-app', 'fast').argv.slice(0, 9), ['incus', 'profile', 'device', 'add', 'veza-app', 'root', 'disk', 'path=/', 'pool=fast']);
  assert.deepEqual(cli.profileRootPoolSet(P, 'veza-data', 'fast').argv.slice(0, 7), ['incus', 'profile', 'device', 'set', 'veza-data', 'root', 'pool=fast']);
  assert.deepEqual(cli.deviceGetRootPool(P, 'forgejo').argv.slice(0, 7), ['incus', 'config', 'device', 'get', 'forgejo', 'root', 'pool']);
  assert.deepEqual(cli.configShowExpanded(P, 'forgejo').argv.slice(0, 5), ['incus', 'config', 'show', 'forgejo', '--expanded']);
  assert.deepEqual(cli.deviceAdd(P, 'veza-haproxy', 'http', 'proxy', ['listen=tcp:0.0.0.0:80', 'connect=tcp:127.0.0.1:80']).argv.slice(0, 9),
    ['incus', 'config', 'device', 'add', 'veza-haproxy', 'http', 'proxy', 'listen=tcp:0.0.0.0:80', 'connect=tcp:127.0.0.1:80']);
  assert.deepEqual(cli.deviceSet(P, 'veza-haproxy', 'https', ['listen=tcp:0.0.0.0:443']).argv, ['incus', 'config', 'device', 'set', 'veza-haproxy', 'https', 'listen=tcp:0.0.0.0:443', '--project', 'veza-itest']);
  assert.deepEqual(cli.listStoragePools(P).argv, ['incus', 'storage', 'list', '--format', 'json', '--project', 'veza-itest']);
  assert.deepEqual(cli.listNetworks(P).argv, ['incus', 'network', 'list', '--format', 'json', '--project', 'veza-itest']);
  assert.deepEqual(cli.listProfiles(P).argv, ['incus', 'profile', 'list', '--format', 'json', '--project', 'veza-itest']);
  assert.deepEqual(cli.imageInfo(P, 'veza-test-base').argv, ['incus', 'image', 'info', 'veza-test-base', '--project', 'veza-itest']);
  assert.deepEqual(cli.stopInstance(P, 'pg').argv, ['incus', 'stop', 'pg', '--project', 'veza-itest']);
  assert.deepEqual(cli.startInstance(P, 'pg').argv, ['incus', 'start', 'pg', '--project', 'veza-itest']);
});

test('names, paths, images and settings are checked before they reach argv', () => {
  refused(() => cli.deleteInstance(P, 'Bad_Name'), /invalid Incus instance name/);
  refused(() => cli.launch(P, { image: 'x; rm -rf /', name: 'ok', profiles: [], network: 'n', pool: 'p' }), /invalid Incus image/);
  refused(() => cli.exec(P, 'ct', ['ls'], { cwd: '/srv/../etc' }), /invalid container path/);
  refused(() => cli.exec(P, 'ct', ['ls'], { env: { 'A B': 'x' } }), /invalid variable/);
  refused(() => cli.exec(P, 'ct', ['ls'], { env: { A: 'two\nlines' } }), /invalid variable/);
  refused(() => cli.exec(P, 'ct', []), /invalid command/);
  refused(() => cli.deviceAdd(P, 'ct', 'http', 'proxy', ['listen=x\nconnect=y']), /invalid Incus setting/);
  refused(() => cli.listInstances({ project: 'Not A Project' }), /invalid Incus project name/);
});
