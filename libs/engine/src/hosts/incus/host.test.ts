import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isVezaError } from '../../log/errors';
import { IncusClient } from './client';
import { choosePool, detectPool, expandedRootPool, planHost, planProfiles, type IncusSettings } from './host';
import { scriptedRunner, sub } from './testing/scripted-runner';

const P = { project: 'default' };

test('pool detection follows the seed: configured, forgejo root device, forgejo expanded, first listed', () => {
  const pools = ['default', 'fast', 'slow'];
  assert.deepEqual(choosePool({ configured: 'slow', referenceDevice: 'fast', referenceExpanded: 'default', pools }), { pool: 'slow', source: 'incus.storagePool in the environment file' });
  assert.equal(choosePool({ referenceDevice: 'fast', referenceExpanded: 'slow', pools }).pool, 'fast');
  assert.equal(choosePool({ referenceExpanded: 'slow', pools }).pool, 'slow');
  assert.deepEqual(choosePool({ pools }), { pool: 'default', source: 'the first pool incus storage list shows' });
});

test('a detected or configured pool that does not exist, or no pool at all, is a clear error', () => {
  assert.throws(() => choosePool({ configured: 'gone', pools: ['default'] }), (e: unknown) => isVezaError(e) && e.code === 'NO_STORAGE_POOL' && /gone .*does not exist/.test(e.message) && /default/.test(e.hint));
  assert.throws(() => choosePool({ pools: [] }), (e: unknown) => isVezaError(e) && e.code === 'NO_STORAGE_POOL');
});

test('the expanded config names the root disk of the profiles too', () => {
  const yaml = ['architecture: x86_64', 'devices:', '  eth0:', '    type: nic', '    network: net-veza', '  root:', '    path: /', '    pool: zfs-fast', '    type: disk', 'ephemeral: false', ''].join('\n');
  assert.equal(expandedRootPool(yaml), 'zfs-fast');
  assert.equal(expandedRootPool('devices: {}\n'), undefined);
  assert.equal(expandedRootPool(': not yaml ['), undefined);
});

test('detectPool runs the seed commands in order and stops at the first answer', async () => {
  const storage = JSON.stringify([{ name: 'default' }, { name: 'fast' }]);
  const viaDevice = scriptedRunner((argv) => (sub(argv).startsWith('storage list') ? { stdout: storage } : sub(argv).startsWith('config device get') ? { stdout: 'fast\n' } : { exitCode: 1 }));
  assert.deepEqual(await detectPool(new IncusClient(viaDevice, 'default'), undefined), { pool: 'fast', source: 'the root device of forgejo' });
  assert.deepEqual(viaDevice.lines().map((l) => l.split(' ').slice(1, 4).join(' ')), ['storage list --format', 'config device get']);

  // forgejo's own device has no pool (it comes from a profile): the expanded config tells.
  const viaProfile = scriptedRunner((argv) => (sub(argv).startsWith('storage list') ? { stdout: storage }
    : sub(argv).startsWith('config device get') ? { exitCode: 1, stderr: 'Error: Device from profile(s) cannot be retrieved for individual instance' }
      : sub(argv).startsWith('config show') ? { stdout: 'devices:\n  root:\n    path: /\n    pool: fast\n    type: disk\n' } : { exitCode: 1 }));
  assert.equal((await detectPool(new IncusClient(viaProfile, 'default'), undefined)).source, 'the expanded config of forgejo');

  const fresh = scriptedRunner((argv) => (sub(argv).startsWith('storage list') ? { stdout: storage } : { exitCode: 1, stderr: 'Error: Instance not found' }));
  assert.deepEqual(await detectPool(new IncusClient(fresh, 'default'), undefined), { pool: 'default', source: 'the first pool incus storage list shows' });

  const configured = scriptedRunner((argv) => (sub(argv).startsWith('storage list') ? { stdout: storage } : { exitCode: 1 }));
  assert.equal((await detectPool(new IncusClient(configured, 'default'), 'fast')).pool, 'fast');
  assert.equal(configured.commands.length, 1, 'a configured pool is only checked to exist');
});

test('profiles: created with a root disk, given one when missing, moved off a wrong pool, left alone when right', () => {
  const lines = (existing: Parameters<typeof planProfiles>[1]) => planProfiles(P, existing, 'fast').map((c) => c.argv.slice(1, -2).join(' '));
  assert.deepEqual(lines([]), [
    'profile create veza-app --description Veza application containers (slots, tools, edge)',
    'profile device add veza-app root disk path=/ pool=fast',
    'profile create veza-data --description Veza data containers (postgres, redis, rabbitmq, minio)',
    'profile device add veza-data root disk path=/ pool=fast',
  ]);
  assert.deepEqual(lines([{ name: 'veza-app', devices: {} }, { name: 'veza-data', devices: { root: { type: 'disk', path: '/', pool: 'default' } } }]), [
    'profile device add veza-app root disk path=/ pool=fast',
    'profile device set veza-data root pool=fast',
  ]);
  const right = { root: { type: 'disk', path: '/', pool: 'fast' } };
  assert.deepEqual(lines([{ name: 'veza-app', devices: right }, { name: 'veza-data', devices: right }]), []);
});

const SETTINGS: IncusSettings = { project: 'veza-itest', network: 'vezatestbr0', image: 'veza-test-base', dnsSuffix: 'incus', storagePool: 'pool1' };

function hostAnswers(over: { projects?: string[]; networks?: string[]; imageKnown?: boolean; daemonDown?: boolean } = {}) {
  return scriptedRunner((argv) => {
    const s = sub(argv);
    if (over.daemonDown && s.startsWith('query')) return { exitCode: 1, stderr: 'Error: Get "http://unix.socket/1.0": dial unix /var/lib/incus/unix.socket: connect: no such file or directory' };
    if (s.startsWith('project list')) return { stdout: JSON.stringify((over.projects ?? ['default']).map((name) => ({ name }))) };
    if (s.startsWith('network list')) return { stdout: JSON.stringify((over.networks ?? ['vezatestbr0']).map((name) => ({ name }))) };
    if (s.startsWith('image info')) return over.imageKnown === false ? { exitCode: 1, stderr: 'Error: not found' } : { stdout: 'Fingerprint: x' };
    if (s.startsWith('storage list')) return { stdout: JSON.stringify([{ name: 'pool1' }]) };
    if (s.startsWith('profile list')) return { stdout: '[]' };
    return {};
  });
}

test('planHost: a new project is created, then profiles in it; nothing runs while planning', async () => {
  const runner = hostAnswers();
  const plan = await planHost(new IncusClient(runner, 'veza-itest'), SETTINGS);
  assert.equal(plan.pool, 'pool1');
  assert.deepEqual(plan.commands.map((c) => c.argv.slice(1, 4).join(' ')), ['project create veza-itest', 'profile create veza-app', 'profile device add', 'profile create veza-data', 'profile device add']);
  assert.ok(runner.lines().every((l) => /^incus (query|project list|network list|image info|storage list)/.test(l)), runner.lines().join('\n'));
});

test('planHost: a missing network, an unknown image, an unreachable daemon are refused with the next step', async () => {
  await assert.rejects(planHost(new IncusClient(hostAnswers({ networks: ['incusbr0'] }), 'veza-itest'), SETTINGS),
    (e: unknown) => isVezaError(e) && e.code === 'NO_NETWORK' && /vezatestbr0 does not exist/.test(e.message) && /incusbr0/.test(e.hint));
  await assert.rejects(planHost(new IncusClient(hostAnswers({ imageKnown: false }), 'veza-itest'), SETTINGS),
    (e: unknown) => isVezaError(e) && e.code === 'NO_IMAGE' && /incus-setup\.sh/.test(e.hint));
  await assert.rejects(planHost(new IncusClient(hostAnswers({ daemonDown: true }), 'veza-itest'), SETTINGS),
    (e: unknown) => isVezaError(e) && e.code === 'INCUS_UNREACHABLE' && /incus query \/1\.0/.test(e.message) && /start it/.test(e.hint));
});

test('a missing network or pool set in an edge file is named there, not in "the environment file"', async () => {
  const lab: IncusSettings = { ...SETTINGS, storagePool: 'gone', origin: { network: 'incus.network in infra/edges/veza-lab.yaml', storagePool: 'incus.storagePool in infra/edges/veza-lab.yaml' } };
  await assert.rejects(planHost(new IncusClient(hostAnswers({ networks: ['incusbr0'] }), 'veza-itest'), lab),
    (e: unknown) => isVezaError(e) && e.code === 'NO_NETWORK' && /or set incus\.network in infra\/edges\/veza-lab\.yaml;/.test(e.hint) && !/environment file/.test(e.hint));
  await assert.rejects(planHost(new IncusClient(hostAnswers(), 'veza-itest'), lab),
    (e: unknown) => isVezaError(e) && e.code === 'NO_STORAGE_POOL' && /gone \(from incus\.storagePool in infra\/edges\/veza-lab\.yaml\)/.test(e.message) && /set incus\.storagePool in infra\/edges\/veza-lab\.yaml/.test(e.hint));
  await assert.rejects(planHost(new IncusClient(hostAnswers({ networks: ['incusbr0'] }), 'veza-itest'), SETTINGS),
    (e: unknown) => isVezaError(e) && /or set network: in the environment file/.test(e.hint), 'an environment\'s own placement still says the environment file');
});
