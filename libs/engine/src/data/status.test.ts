import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseEnvironment } from '../config/environment';
import { erasureQuorum, readMinioInfo } from './minio-topology';
import { readCacheLog, readStubStatus, renderNginxCache } from './nginx-cache';
import { readMasterAddr, readSentinelReplicas, sentinelStatus } from './redis-topology';
import { formatServicesStatus } from './status';

/** The readers infra-data:status is built on, on the shapes the real tools print (redis-cli --json, mc admin info --json, nginx). */

const REPLICAS = JSON.stringify([
  { name: '10.0.0.2:6379', ip: '10.0.0.2', port: '6379', flags: 'slave', 'master-link-status': 'ok', 'slave-repl-offset': '1234' },
  { name: '10.0.0.3:6379', ip: '10.0.0.3', port: '6379', flags: 's_down,slave,disconnected', 'master-link-status': 'err', 'slave-repl-offset': '0' },
]);

test('sentinel: the master by majority, disagreement said, replicas as the majority sees them', () => {
  assert.equal(readMasterAddr('["10.0.0.1","6379"]'), '10.0.0.1:6379');
  assert.equal(readMasterAddr('null'), undefined);
  const replicas = readSentinelReplicas(REPLICAS);
  assert.deepEqual(replicas[1], { address: '10.0.0.3:6379', flags: 's_down,slave,disconnected', linkStatus: 'err', offset: 0 });
  const s = sentinelStatus('veza-master', [
    { address: '10.0.0.1:26379', master: '10.0.0.1:6379', replicas },
    { address: '10.0.0.2:26379', master: '10.0.0.2:6379', replicas: [] },
    { address: '10.0.0.3:26379', master: '10.0.0.1:6379', replicas },
    { address: '10.0.0.4:26379', error: 'connection refused' },
  ]);
  assert.equal(s.master, '10.0.0.1:6379');
  assert.equal(s.agreed, false);
  assert.equal(s.replicas.length, 2);
  const lines = formatServicesStatus('prod', { redis: { topology: 'sentinel', ...s } });
  assert.match(lines[0]!, /^redis of prod \(sentinel, veza-master\): master 10\.0\.0\.1:6379 \(SENTINELS DISAGREE\), 3\/4 sentinels answer$/);
  assert.ok(lines.includes('  sentinel 10.0.0.4:26379: no answer (connection refused)'));
  assert.ok(lines.includes('  replica 10.0.0.3:6379: s_down,slave,disconnected, link err, offset 0'));
});

test('minio: drives, offline nodes and healing from mc admin info --json; an unreachable MinIO is a status, not a crash', () => {
  const info = {
    status: 'success',
    info: {
      mode: 'online',
      backend: { onlineDisks: 2, offlineDisks: 2, standardSCParity: 2, totalDrivesPerSet: [4] },
      servers: [
        { endpoint: 'n1:9000', state: 'online', drives: [{ endpoint: 'http://n1:9000/d0', state: 'ok' }] },
        { endpoint: 'n2:9000', state: 'online', drives: [{ endpoint: 'http://n2:9000/d0', state: 'ok', healing: true }] },
        { endpoint: 'n3:9000', state: 'offline', drives: [{ endpoint: 'http://n3:9000/d0', state: 'offline' }] },
        { endpoint: 'n4:9000', state: 'offline', drives: [{ endpoint: 'http://n4:9000/d0', state: 'offline' }] },
      ],
      pools: { 0: { 0: { healDisks: 1 } } },
    },
  };
  const s = readMinioInfo(JSON.stringify(info));
  assert.deepEqual([s.mode, s.drivesOnline, s.drivesOffline, s.healing], ['online', 2, 2, 1]);
  const lines = formatServicesStatus('prod', { minio: { topology: 'distributed', ...s } });
  assert.equal(lines[0], 'minio of prod (distributed): online, drives 2 online, 2 offline, 1 healing; WRITES REFUSED: 2 of 4 drives of a set online, writes need 3 (EC:2); reads still work; start the stopped nodes');
  // EC:2 on 4 drives: data = parity, so a write needs one more than the data drives; one node down still writes, three down do not even read.
  assert.deepEqual(erasureQuorum(4, 2), { read: 2, write: 3 });
  assert.deepEqual(erasureQuorum(8, 2), { read: 6, write: 6 });
  const three = formatServicesStatus('prod', { minio: { topology: 'distributed', ...s, quorum: { ...s.quorum!, weakestSetOnline: 3 } } });
  assert.match(three[0]!, /; writable \(3 of 4 drives of a set online, writes need 3, EC:2\)$/);
  const one = formatServicesStatus('prod', { minio: { topology: 'distributed', ...s, quorum: { ...s.quorum!, weakestSetOnline: 1 } } });
  assert.match(one[0]!, /; READS AND WRITES REFUSED: 1 of 4 drives of a set online, reads need 2 \(EC:2\); start the stopped nodes$/);
  assert.ok(lines.includes('  node n3:9000: offline'));
  assert.ok(lines.includes('    drive http://n2:9000/d0: ok, healing'));
  // What mc prints when no node answers (its error is a string there, an object elsewhere).
  assert.equal(readMinioInfo('{"status":"error","error":"dial tcp 10.0.0.1:9000: connect: connection refused","info":{}}').error, 'dial tcp 10.0.0.1:9000: connect: connection refused');
  assert.equal(readMinioInfo('{"status":"error","error":{"message":"Access Denied."}}').mode, 'unreachable');
});

test('cache: the hit ratio counts lookups (BYPASS is none), STALE is served from the cache; stub_status read', () => {
  const log = ['1.000 MISS 200 0.120', '1.100 HIT 200 0.001', '1.200 HIT 206 0.001', '1.300 STALE 200 0.002', '1.400 BYPASS 200 0.010', 'garbage', '1.500 EXPIRED 200 0.050', ''].join('\n');
  const c = readCacheLog(log);
  assert.deepEqual(c, { byStatus: { MISS: 1, HIT: 2, STALE: 1, BYPASS: 1, EXPIRED: 1 }, lookups: 5, fromCache: 3, hitRatio: 0.6 });
  assert.equal(readCacheLog('').hitRatio, undefined);
  assert.deepEqual(readStubStatus('Active connections: 3 \nserver accepts handled requests\n 10 10 42 \nReading: 0 Writing: 1 Waiting: 2 \n'), { active: 3, requests: 42 });
  const lines = formatServicesStatus('local', { cache: { url: 'http://127.77.1.50:8080', running: true, counts: c, diskBytes: 3 << 20, connections: { active: 3, requests: 42 } } });
  assert.equal(lines[0], 'media cache of local: http://127.77.1.50:8080 runs, hit ratio 60.0 % (3 of 5 lookups), 3.0 MiB on disk; BYPASS 1, EXPIRED 1, HIT 2, MISS 1, STALE 1');
});

test('the rendered cache forwards the signed Host, never turns a HEAD into a GET, logs each answer, and pools every MinIO node', () => {
  const conf = renderNginxCache({ listen: { host: '127.0.0.5', port: 80 }, upstream: [{ host: 'n1', port: 9000 }, { host: 'n2', port: 9000 }], status: { host: '127.0.0.1', port: 81 }, cacheDir: '/c', tempDir: '/t', pidFile: '/p', errorLog: '/e', accessLog: '/a', maxSize: '1g' });
  assert.equal(conf.match(/proxy_set_header Host \$http_host;/g)?.length, 3, 'every location');
  assert.match(conf, /proxy_cache_convert_head off;/);
  assert.match(conf, /access_log \/a veza_cache;/);
  assert.match(conf, /upstream veza_minio \{\n\s+server n1:9000;\n\s+server n2:9000;\n\s+keepalive 32;/);
  assert.doesNotMatch(conf, /^user /m, 'no user line unless given');
});

test('data.minio.cache: defaults, and a bad size refused with its line', () => {
  const base = ['name: x', 'driver: local', 'prefix: veza-x-', 'publicHosts: [localhost]', 'publicUrl: http://localhost:1', 'edge: e', "registry: { url: 'file:r', owner: veza }", 'local: { subnet: 127.79.121 }', 'data:', '  minio:'];
  const env = parseEnvironment('infra/environments/x.yaml', [...base, '    cache: {}', ''].join('\n'));
  assert.deepEqual(env.data.minio?.cache, { port: 8080, statusPort: 8081, maxSize: '20g', appsThrough: true });
  assert.throws(() => parseEnvironment('infra/environments/x.yaml', [...base, '    cache:', '      maxSize: lots', ''].join('\n')), /x\.yaml:12: data\.minio\.cache\.maxSize: must be a size such as 20g or 512m/);
});
