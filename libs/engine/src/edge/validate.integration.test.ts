import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createProcessRunner } from '../ports/process';
import { prepareCopy, validateHaproxyConfig } from './validate';

const runner = createProcessRunner();
const BASE = ['defaults', '  mode http', '  timeout connect 1s', '  timeout client 1s', '  timeout server 1s', ''];

test('an unknown directive is refused with HAProxy\'s own message, naming the file and line', async () => {
  const text = [...BASE, 'frontend f', '  bind 127.0.0.1:1', '  frobnicate yes', ''].join('\n');
  await assert.rejects(validateHaproxyConfig(text, { runner, label: 'edge.cfg' }), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'EDGE_CONFIG_INVALID');
    assert.match(e.message, /haproxy -c rejected edge\.cfg: ALERT: .*\[edge\.cfg:9\].*'frobnicate'/);
    return true;
  });
});

test('warnings fail too (zero-warning mode)', async () => {
  // A use_backend before an http-request rule: HAProxy warns that the order is not what it looks like.
  const text = [...BASE, 'frontend f', '  bind 127.0.0.1:1', '  use_backend b if { path /x }', '  http-request deny if { path /y }', 'backend b', '  server s 127.0.0.1:2', ''].join('\n');
  await assert.rejects(validateHaproxyConfig(text, { runner, label: 'edge.cfg' }), /WARNING: .*http-request/);
});

test('certificates and maps that do not exist here are replaced by throwaway ones; existing ones are kept', async (t) => {
  const dir = await fs.mkdtemp(join(tmpdir(), 'veza-validate-test-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  const text = [
    ...BASE,
    'frontend f',
    '  bind 127.0.0.1:1',
    '  bind 127.0.0.1:2 ssl crt /nonexistent/tls/ alpn h2,http/1.1',
    '  bind 127.0.0.1:3 ssl crt /nonexistent/one.pem',
    `  acl blocked src -f ${dir}/blocked.lst`,
    '  http-request set-var(txn.pool) req.hdr(host),map(/nonexistent/hosts.map,none)',
    '  http-request deny if blocked',
    '',
  ].join('\n');
  await fs.writeFile(join(dir, 'blocked.lst'), '192.0.2.1\n');
  const res = await validateHaproxyConfig(text, { runner });
  assert.deepEqual(res.substitutions.map((s) => [s.kind, s.original]), [
    ['cert-dir', '/nonexistent/tls/'],
    ['cert-file', '/nonexistent/one.pem'],
    ['file', '/nonexistent/hosts.map'],
  ]);
});

test('the copy never resolves slot names and keeps line numbers', async () => {
  const { text } = await prepareCopy('backend b\n  default-server check init-addr libc,none\n  server s a.lxd:80\n', '/tmp/x', {});
  assert.equal(text, 'backend b\n  default-server check init-addr none\n  server s a.lxd:80\n');
});
