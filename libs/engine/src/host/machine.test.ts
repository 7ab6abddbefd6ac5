import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IncusClient } from '../hosts/incus/client';
import { scriptedRunner } from '../hosts/incus/testing/scripted-runner';
import { isVezaError } from '../log/errors';
import { ask, binaryExists, incusMachine, pathExists, type Machine } from './machine';

test('a container machine runs the same argv through incus exec, in its project, variables as --env', async () => {
  const runner = scriptedRunner(() => ({ stdout: 'ok' }));
  const m = incusMachine(new IncusClient(runner, 'veza-prod'), 'veza-postgres');
  assert.equal(m.label, 'container veza-postgres');
  await m.run({ argv: ['apt-config', 'dump', 'Unattended-Upgrade'], env: { APT_CONFIG: '/tmp/s/apt-config' } });
  await m.run(binaryExists('sshd'));
  assert.deepEqual(runner.lines(), [
    'incus exec veza-postgres --disable-stdin --env APT_CONFIG=/tmp/s/apt-config --project veza-prod -- apt-config dump Unattended-Upgrade',
    'incus exec veza-postgres --disable-stdin --project veza-prod -- sh -c command -v "$1" || exit 1 veza sshd',
  ]);
});

test('a container machine writes through the client\'s atomic write script, with the mode asked for', async () => {
  const runner = scriptedRunner(() => ({}));
  await incusMachine(new IncusClient(runner, 'veza-prod'), 'veza-haproxy').writeFile('/etc/apt/apt.conf.d/52veza', 'x\n', 0o644);
  const [c] = runner.commands;
  assert.deepEqual(c!.argv.slice(-4), ['veza', '/etc/apt/apt.conf.d/52veza', 'root:root', '0644']);
  assert.match(c!.argv.join(' '), /mv -f "\$tmp" "\$dest"/, 'renamed into place');
  assert.equal(c!.input, 'x\n');
});

test('a path or binary that is not there is a no; an exec that did not get through is an error, not a no', async () => {
  const answering = (exitCode: number): Machine => ({ label: 'container c', run: async () => ({ exitCode, stdout: '', stderr: exitCode === 255 ? 'Error: websocket closed' : '' }), readFile: async () => undefined, writeFile: async () => undefined });
  assert.equal(await ask(answering(0), pathExists('/etc/ssh/sshd_config')), true);
  assert.equal(await ask(answering(1), pathExists('/etc/ssh/sshd_config')), false);
  assert.equal(await ask(answering(1), binaryExists('sshd')), false);
  await assert.rejects(ask(answering(255), pathExists('/etc/ssh/sshd_config')), (e: unknown) => isVezaError(e) && /look for \/etc\/ssh\/sshd_config on container c failed \(exit 255\): Error: websocket closed/.test(e.message));
});
