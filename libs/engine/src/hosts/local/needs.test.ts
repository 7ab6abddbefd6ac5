import { test } from 'node:test';
import assert from 'node:assert/strict';
import { componentSchema } from '../../config/component';
import { isVezaError } from '../../log/errors';
import { createProcessRunner } from '../../ports/process';
import { checkLocalNeeds, notInstalled } from './needs';

const component = (name: string, needs: string[]) =>
  componentSchema.parse({ name, build: { preset: 'go', binaries: [name] }, run: { command: [`./${name}`], port: 8080, health: '/health', needs } });

test('dpkg-query output: only packages shown as installed (ii) count, an architecture suffix aside', () => {
  assert.deepEqual(notInstalled(['bash', 'libc6', 'gone', 'nope'], 'bash ii \nlibc6:amd64 ii \ngone rc \n'), ['gone', 'nope']);
});

test('the machine\'s own dpkg database decides: installed needs pass, a missing one is refused naming the component and the apt-get line', async () => {
  const runner = createProcessRunner();
  await checkLocalNeeds([component('veza-api', []), component('veza-web', ['bash', 'coreutils'])], runner);
  await assert.rejects(checkLocalNeeds([component('veza-web', ['bash', 'veza-no-such-package'])], runner), (e: unknown) =>
    isVezaError(e) && e.code === 'MISSING_PACKAGE' && /veza-web needs veza-no-such-package/.test(e.message) && /apt-get install veza-no-such-package$/.test(e.hint));
});

test('a need that is not a Debian package name is refused by the component schema', () => {
  assert.throws(() => component('veza-web', ['Node JS']), /must be a Debian package name/);
});
