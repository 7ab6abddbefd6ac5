import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inInitialUserNamespace, judgeInotify, readInotifyFacts } from './inotify';

const HOST_MAP = '         0          0 4294967295\n';
/** What /proc/self/uid_map shows in an unprivileged Incus container (read in one, on this machine). */
const CONTAINER_MAP = '         0    1000000 1000000000\n';

test('the initial user namespace is the identity map of every uid; a container\'s is not', () => {
  assert.equal(inInitialUserNamespace(HOST_MAP), true);
  assert.equal(inInitialUserNamespace(CONTAINER_MAP), false);
  assert.equal(inInitialUserNamespace(''), false, 'unreadable: not taken for the host');
  assert.equal(inInitialUserNamespace(`${HOST_MAP}         1          1 1\n`), false);
});

test('the host\'s limit: 1024 and more pass; 128 warns with the command that fixes it, sysctl --system when incus-base\'s file is there', () => {
  assert.deepEqual(judgeInotify({ uidMap: HOST_MAP, maxUserInstances: '1024\n', incusSysctlFile: true }, '/etc'), { kind: 'ok' });
  assert.deepEqual(judgeInotify({ uidMap: HOST_MAP, maxUserInstances: '8192\n', incusSysctlFile: false }, '/etc'), { kind: 'ok' });
  const shipped = judgeInotify({ uidMap: HOST_MAP, maxUserInstances: '128\n', incusSysctlFile: true }, '/etc');
  assert.equal(shipped.kind, 'low');
  assert.match((shipped as { note: string }).note, /fs\.inotify\.max_user_instances is 128 on this Incus host, below 1024: .*without networking .*run as root: sysctl --system \(it applies \/etc\/sysctl\.d\/10-incus-inotify\.conf/);
  const missing = judgeInotify({ uidMap: HOST_MAP, maxUserInstances: '128\n', incusSysctlFile: false }, '/etc');
  assert.match((missing as { note: string }).note, /run as root: echo 'fs\.inotify\.max_user_instances = 1024' > \/etc\/sysctl\.d\/10-incus-inotify\.conf && sysctl --system$/);
});

test('inside a container the value is its own namespace\'s, even a high one: not judged, and the run says where to look', () => {
  const v = judgeInotify({ uidMap: CONTAINER_MAP, maxUserInstances: '1024\n', incusSysctlFile: true }, '/etc');
  assert.equal(v.kind, 'unreadable');
  assert.match((v as { info: string }).info, /inside a container .*not the Incus host's; check it on the host with: sysctl fs\.inotify\.max_user_instances/);
  assert.equal(judgeInotify({ uidMap: CONTAINER_MAP, maxUserInstances: '128\n', incusSysctlFile: false }, '/etc').kind, 'unreadable', 'a low value there is no evidence about the host either');
});

test('the facts are read from proc and etc roots', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'veza-inotify-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await mkdir(join(dir, 'proc/self'), { recursive: true });
  await mkdir(join(dir, 'proc/sys/fs/inotify'), { recursive: true });
  await writeFile(join(dir, 'proc/self/uid_map'), HOST_MAP);
  await writeFile(join(dir, 'proc/sys/fs/inotify/max_user_instances'), '128\n');
  assert.deepEqual(await readInotifyFacts(join(dir, 'proc'), join(dir, 'etc')), { uidMap: HOST_MAP, maxUserInstances: '128\n', incusSysctlFile: false });
});
