import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createProcessRunner } from '../ports/process';
import { VezaError } from '../log/errors';
import { installCertificate } from './certificates';
import type { EdgeHost } from './edge-host';
import { selfSignedPem } from './validate';

const FILE = '/etc/haproxy/certs/a.test.pem';
const serialOf = (pem: string) => /^serial=(\S+)$/m.exec(spawnSync('openssl', ['x509', '-noout', '-serial'], { input: pem, encoding: 'utf8' }).stdout)![1]!;

/** An edge that knows FILE, whose answer to `commit` is lost on the way back, and that then holds `held`'s certificate. */
function lossyEdge(held: () => string) {
  const asked: string[] = [];
  const written: string[] = [];
  const host = {
    async runtime([c]: string[]) {
      asked.push(c!);
      if (c === 'show ssl cert') return `# filename\n${FILE}\n`;
      if (c === `show ssl cert ${FILE}`) return `Filename: ${FILE}\nStatus: Used\nSerial: ${serialOf(held())}\n`;
      if (c!.startsWith('commit ssl cert')) throw new VezaError('the answer was lost', 'check', 'EDGE_ANSWER_LOST');
      if (c!.startsWith('abort ssl cert')) return 'Transaction aborted for certificate\n';
      throw new Error(`unexpected ${c}`);
    },
    async runtimePayload(c: string) {
      asked.push(c);
      return `Transaction created for certificate ${FILE}!\n`;
    },
    async writeFile(path: string) {
      written.push(path);
    },
  } as unknown as EdgeHost;
  return { host, asked, written };
}

test('a commit whose answer was lost counts as done when HAProxy now serves the new certificate, and fails when it does not', async () => {
  const runner = createProcessRunner();
  const [fresh, old] = [await selfSignedPem(runner, 'a.test', 5), await selfSignedPem(runner, 'a.test', 5)];

  const took = lossyEdge(() => fresh);
  await installCertificate(took.host, FILE, '/etc/haproxy/certs/', fresh);
  assert.deepEqual(took.written, [FILE], 'the PEM is written for the next start');
  assert.ok(took.asked.includes(`show ssl cert ${FILE}`), 'HAProxy was asked what it holds');
  assert.ok(!took.asked.some((c) => c.startsWith('abort')), 'a committed transaction is not aborted');

  const kept = lossyEdge(() => old);
  await assert.rejects(installCertificate(kept.host, FILE, '/etc/haproxy/certs/', fresh), (e: VezaError) => e.code === 'EDGE_ANSWER_LOST');
  assert.deepEqual(kept.written, [], 'nothing is written while HAProxy serves the old certificate');
  assert.ok(kept.asked.includes(`abort ssl cert ${FILE}`), 'the open transaction is aborted');
});
