import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import type { ExecutorContext } from '@nx/devkit';
import hostBootstrapExecutor from './executor';

test('a registration token given as an option is refused before anything runs, and not echoed', async () => {
  const secret = 'rt-option-0123456789';
  const out: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  const context = { root: resolve(__dirname, '../../../../..'), projectName: 'infra-host' } as ExecutorContext;
  process.stderr.write = ((chunk: string | Uint8Array) => (out.push(String(chunk)), true)) as typeof process.stderr.write;
  let result;
  try {
    result = await hostBootstrapExecutor({ env: 'prod', token: secret } as never, context);
  } finally {
    process.stderr.write = write;
  }
  assert.deepEqual(result, { success: false });
  const text = out.join('');
  assert.match(text, /--token is refused: the runner registration token is never an argument/);
  assert.ok(!text.includes(secret));
});
