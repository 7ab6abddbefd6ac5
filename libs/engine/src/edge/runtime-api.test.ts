import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeServerCheck, isReadOnlyRequest, parseCurrentSessions, parseServerChecks, parseServersState, parseShowProc, runtimeErrors, servedSerial } from './runtime-api';

// Answers captured from HAProxy 2.6.12.
test('show servers state: forced maintenance and drain from the admin state bits', () => {
  const text = [
    '1',
    '# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port',
    '3 pool 1 blue 127.66.0.10 2 0 1 1 6 15 3 4 6 0 0 0 - 9001 - 0 0 - - 0',
    '3 pool 2 green 127.66.0.11 0 5 1 1 6 1 0 0 14 0 0 0 - 9001 - 0 0 - - 0',
    '3 pool 3 blue_bk 127.66.0.10 1 4 1 1 1 1 0 2 6 0 0 0 - 9001 - 0 0 - - 0',
    '3 pool 4 green_bk 127.66.0.11 2 8 1 1 62 15 3 4 6 0 0 0 - 9001 - 0 0 - - 0',
    '',
  ].join('\n');
  assert.deepEqual(parseServersState(text).map((s) => [s.server, s.maint, s.drain]), [
    ['blue', false, false], ['green', true, false], ['blue_bk', false, false], ['green_bk', false, true],
  ]);
  assert.throws(() => parseServersState('Unknown command\n'), /unexpected "show servers state" answer/);
});

test('show proc: reload counters and workers', () => {
  const text = [
    '#<PID>          <type>          <reloads>       <uptime>        <version>      ',
    '6570            master          1 [failed: 0]   0d00h00m24s     2.6.12-1+deb12u4',
    '# workers',
    '6895            worker          0               0d00h00m00s     2.6.12-1+deb12u4',
    '6571            worker          1               0d00h00m24s     2.6.12-1+deb12u4',
    '# programs',
    '',
  ].join('\n');
  assert.deepEqual(parseShowProc(text), { masterPid: 6570, reloads: 1, failedReloads: 0, workers: [{ pid: 6895, reloads: 0 }, { pid: 6571, reloads: 1 }] });
});

test('show stat: current sessions per server; runtime errors are any non-blank answer', () => {
  const csv = '# pxname,svname,qcur,qmax,scur,smax\nfe,FRONTEND,,,3,9\npool,blue,0,0,1,4\npool,green,0,0,0,2\n';
  assert.deepEqual([...parseCurrentSessions(csv)], [['fe/FRONTEND', 3], ['pool/blue', 1], ['pool/green', 0]]);
  assert.deepEqual(runtimeErrors('\n\n'), []);
  assert.deepEqual(runtimeErrors('\nNo such server.\n\n'), ['No such server.']);
});

test('show stat: each server\'s state, last check and address, as a failure message names them', () => {
  const csv = [
    '# pxname,svname,scur,status,check_status,check_code,addr',
    'fe,FRONTEND,0,OPEN,,,',
    'env_api_preview,blue,0,DOWN,L4TOUT,,10.231.77.249:8080',
    'env_api_preview,green,0,MAINT,L7STS,503,10.231.77.115:8080',
    'env_api_preview,BACKEND,0,DOWN,,,',
    'env_web,blue,0,MAINT (resolution),,,',
  ].join('\n');
  const checks = parseServerChecks(csv);
  assert.deepEqual([...checks.keys()], ['env_api_preview/blue', 'env_api_preview/green', 'env_web/blue']);
  assert.equal(describeServerCheck('blue', checks.get('env_api_preview/blue')!), 'blue DOWN (last check L4TOUT) at 10.231.77.249:8080');
  assert.equal(describeServerCheck('green', checks.get('env_api_preview/green')!), 'green MAINT (last check L7STS 503) at 10.231.77.115:8080');
  assert.equal(describeServerCheck('blue', checks.get('env_web/blue')!), 'blue MAINT (resolution) (its name has no address yet)');
  assert.throws(() => parseServerChecks('# pxname,svname,status\n'), /unexpected "show stat" answer: no check_status, check_code, addr column/);
});

test('a master CLI line is read-only only when every command in it is a show: only those are asked twice', () => {
  for (const line of ['show proc', '@1; show info; show stat', '@!4242 show info', '@1 show ssl cert /etc/haproxy/certs/a.pem']) assert.equal(isReadOnlyRequest(line), true, line);
  for (const line of ['reload', '@1 commit ssl cert /x.pem', '@1; show info; set server pool/blue state maint', '@1 set ssl cert /x.pem <<\nPEM', '@1', '']) assert.equal(isReadOnlyRequest(line), false, line);
});

test('show ssl cert <file>: its serial, in the form pemSerial writes', () => {
  // Captured from HAProxy 2.6.12 serving a certificate whose `openssl x509 -serial` is the same hex.
  const answer = 'Filename: /tmp/a.pem\nStatus: Used\nSerial: 2D9B9318F7BBD8891328F7915A141FF3141364A9\nnotBefore: Dec  4 18:59:49 2026 GMT\n';
  assert.equal(servedSerial(answer), '2D9B9318F7BBD8891328F7915A141FF3141364A9');
  assert.equal(servedSerial('Serial: 00a1\n'), 'A1');
  assert.equal(servedSerial('No ongoing transaction!\n'), undefined);
});
