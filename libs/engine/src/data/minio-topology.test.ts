import { test } from 'node:test';
import assert from 'node:assert/strict';
import { environmentSchema } from '../config/environment';
import { LIFECYCLE, bucketCommands, mcHostEnv, minioEndpoints, minioServerArgs, minioServerEnv, type MinioNode } from './minio-topology';

const settings = (over: object) => environmentSchema.shape.data.parse({ minio: { passwordEnv: 'M', ...over } }).minio!;
const nodes: MinioNode[] = [0, 1, 2, 3].map((index) => ({ index, host: `10.0.0.${index + 1}`, port: 9000 + index, dir: `/srv/n${index}` }));

test('distributed: every node gets the same four endpoints, one erasure set, EC:2 from the environment; the password stays out of argv', () => {
  const s = settings({ topology: 'distributed' });
  const argv = minioServerArgs(s, nodes, nodes[2]!);
  assert.deepEqual(argv, ['server', '--quiet', '--address', '10.0.0.3:9002', 'http://10.0.0.1:9000/srv/n0/d0', 'http://10.0.0.2:9001/srv/n1/d0', 'http://10.0.0.3:9002/srv/n2/d0', 'http://10.0.0.4:9003/srv/n3/d0']);
  const env = minioServerEnv(s, 'root-Secret-1');
  assert.equal(env.MINIO_STORAGE_CLASS_STANDARD, 'EC:2');
  assert.equal(env.MINIO_ROOT_PASSWORD, 'root-Secret-1');
  assert.equal(env.MINIO_API_STALE_UPLOADS_EXPIRY, '168h', 'the seed\'s 7 d abort of incomplete multipart uploads');
  assert.ok(!argv.join(' ').includes('root-Secret-1'));
  assert.throws(() => minioServerEnv(s, 'short'), /shorter than 8/);
  assert.equal(minioEndpoints(settings({ topology: 'distributed', nodes: 2, drivesPerNode: 2 }), nodes.slice(0, 2)).length, 4);
});

test('single: local drives, no storage class', () => {
  const s = settings({});
  assert.deepEqual(minioEndpoints(s, nodes), ['/srv/n0/d0']);
  assert.equal(minioServerEnv(s, 'root-Secret-1').MINIO_STORAGE_CLASS_STANDARD, undefined);
});

test('the bucket: created if missing, versioned, lifecycle imported whole (noncurrent versions 30 d); credentials only in MC_HOST_veza', () => {
  assert.deepEqual(bucketCommands('veza-prod').map((c) => c.argv), [['mb', '--ignore-existing', 'veza/veza-prod'], ['version', 'enable', 'veza/veza-prod'], ['ilm', 'import', 'veza/veza-prod']]);
  assert.deepEqual(JSON.parse(LIFECYCLE).Rules[0].NoncurrentVersionExpiration, { NoncurrentDays: 30 });
  // mc never URL-decodes MC_HOST_*: the password goes in as it is (the last @ ends it), and a ':' in it is refused.
  assert.deepEqual(mcHostEnv(nodes[0]!, 'p@ss/wo%24rd$!'), { MC_HOST_veza: 'http://veza:p@ss/wo%24rd$!@10.0.0.1:9000' });
  assert.throws(() => mcHostEnv(nodes[0]!, 'pass:word'), /session token/);
});
