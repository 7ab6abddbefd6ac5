import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createProcessRunner } from '../ports/process';
import { DAY_MS, legoRunCommand, normalizeSerial, pemExpiryFor, pemSerial, planCertificates, recordAttempt, renderCertificateUnits, renderCertMetrics, type AcmeSettings } from './acme';
import { checkCliRequest, withPayload } from './runtime-api';
import { selfSignedPem } from './validate';
import { verifyUnits } from '../util/testing/systemd';

const NOW = new Date('2026-12-03T12:00:00Z');
const inDays = (d: number) => new Date(NOW.getTime() + d * DAY_MS);

test('a certificate is ordered when missing, renewed within renewDays or when forced, kept otherwise', () => {
  const states = [{ host: 'new.test' }, { host: 'old.test', notAfter: inDays(10) }, { host: 'fresh.test', notAfter: inDays(80) }, { host: 'edge.test', notAfter: inDays(30) }];
  assert.deepEqual(planCertificates(states, NOW, 30, false).map((p) => [p.host, p.action]), [['new.test', 'issue'], ['old.test', 'renew'], ['fresh.test', 'keep'], ['edge.test', 'renew']]);
  assert.deepEqual(planCertificates(states, NOW, 30, true).map((p) => p.action), ['issue', 'renew', 'renew', 'renew']);
  assert.match(planCertificates(states, NOW, 30, false)[1]!.why, /10\.0 days left, within 30/);
});

test('only a certificate valid for the host counts as served (a placeholder or another host’s is not)', async () => {
  const pem = await selfSignedPem(createProcessRunner(), 'a.test', 5);
  assert.ok(pemExpiryFor(pem, 'a.test')! > new Date());
  assert.equal(pemExpiryFor(pem, 'b.test'), undefined);
  assert.equal(pemExpiryFor('garbage', 'a.test'), undefined);
});

test('the lego order: one host, the webroot the responder serves, a test CA only through the environment', () => {
  const s: AcmeSettings = { directory: 'https://ca.test/dir', email: 'ops@veza.test', renewDays: 30, stateDir: '/var/lib/veza/acme', responder: { host: '127.0.0.1', port: 8888 }, certDir: '/etc/tls/' };
  const cmd = legoRunCommand(s, 'veza.test');
  assert.deepEqual(cmd.argv, ['lego', '--server', 'https://ca.test/dir', '--email', 'ops@veza.test', '--accept-tos', '--path', '/var/lib/veza/acme/lego', '--key-type', 'ec256',
    '--http', '--http.webroot', '/var/lib/veza/acme/webroot', '--domains', 'veza.test', 'run']);
  assert.equal(cmd.env, undefined);
  assert.deepEqual(legoRunCommand({ ...s, caBundle: '/tmp/ca.pem' }, 'veza.test').env, { LEGO_CA_CERTIFICATES: '/tmp/ca.pem' });
});

test('metrics: expiry per host and the last outcome, in a format promtool accepts', () => {
  let attempts = recordAttempt({ schema: 1, hosts: {} }, 'a.test', true, NOW);
  attempts = recordAttempt(attempts, 'b.test', false, NOW);
  attempts = recordAttempt(attempts, 'a.test', false, inDays(1));
  const text = renderCertMetrics('edge1', [{ host: 'a.test', notAfter: inDays(42.5) }, { host: 'b.test' }], attempts);
  assert.match(text, new RegExp(`^veza_certificate_not_after_timestamp_seconds\\{edge="edge1",host="a\\.test"\\} ${inDays(42.5).getTime() / 1000}$`, 'm'));
  assert.doesNotMatch(text, /not_after_timestamp_seconds\{edge="edge1",host="b\.test"\}/);
  assert.match(text, /^veza_certificate_renewal_success\{edge="edge1",host="a\.test"\} 0$/m);
  // A failure keeps the time of the last success.
  assert.match(text, new RegExp(`^veza_certificate_renewal_last_success_timestamp_seconds\\{edge="edge1",host="a\\.test"\\} ${NOW.getTime() / 1000}$`, 'm'));
  const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if (check.error) return; // promtool is not on every machine; the format assertions above still ran
  assert.equal(check.status, 0, check.stdout + check.stderr);
});

test('the daily job: systemd accepts the service and its jittered timer', async (t) => {
  const units = renderCertificateUnits({ edge: 'veza-haproxy', workspaceRoot: '/tmp', npx: '/bin/true' });
  assert.equal(units.name, 'veza-certificates-veza-haproxy');
  assert.match(units.timer, /^OnCalendar=daily$/m);
  assert.match(units.timer, /^RandomizedDelaySec=\d+h$/m);
  assert.match(units.service, /^ExecStart=\/bin\/true nx run infra-edge:certificates --edge=veza-haproxy$/m);
  if (!(await verifyUnits([units]))) t.skip('systemd-analyze is not installed');
});

test('a runtime API request is one line, or a command with a payload holding no empty line', () => {
  const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
  assert.doesNotThrow(() => checkCliRequest(`@1 ${withPayload('set ssl cert /etc/tls/a.pem', pem)}`));
  assert.doesNotThrow(() => checkCliRequest('show proc'));
  assert.throws(() => checkCliRequest('show proc\nshutdown'), /must be one line/);
  assert.throws(() => checkCliRequest('set ssl cert /a.pem <<\nx\n\nshutdown frontend edge'), /without empty lines/);
});

test('a PEM\'s serial is its leaf\'s, as HAProxy and openssl print it', async () => {
  const pem = await selfSignedPem(createProcessRunner(), 'a.test', 5);
  const openssl = spawnSync('openssl', ['x509', '-noout', '-serial'], { input: pem, encoding: 'utf8' }).stdout.trim().replace(/^serial=/, '');
  assert.equal(pemSerial(pem), normalizeSerial(openssl));
  assert.equal(pemSerial('garbage'), undefined);
});
