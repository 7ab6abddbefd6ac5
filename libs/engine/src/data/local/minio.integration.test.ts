import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { localDataEnv, localDataTier } from './testing/tier';
import { localMinio } from './minio';
import { livePid } from './pids';

/**
 * MinIO on real processes, single topology: the bucket veza-<env> versioned
 * with the lifecycle, objects written and read back by sha256, a second
 * provision starting nothing. The distributed EC:2 drill cannot run on this
 * machine: it is a container (/.dockerenv), and there MinIO refuses every
 * endpoint that resolves to a loopback address (its cmd/endpoint.go), so
 * four nodes on 127.x never form a cluster. See README, "MinIO topologies".
 * The binaries come from tools/scripts/minio-tools.sh (cached by version).
 */
const root = join(__dirname, '../../../../..');
const toolsDir = execFileSync('bash', [join(root, 'tools/scripts/minio-tools.sh')], { encoding: 'utf8' }).trim();

const minioEnv = () => localDataEnv('objects', '127.79.64', { postgres: { port: 25741 }, minio: { port: 25745, binary: join(toolsDir, 'minio') } });

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

test('minio: the bucket is versioned with the lifecycle; objects read back by checksum; a second provision starts nothing', async (t) => {
  const env = minioEnv();
  const { tier, log, dataRoot, dir } = await localDataTier(t, env);

  await tier().provision();
  const m = localMinio(env, dataRoot)!;
  const vars = await tier().serviceEnv!();
  assert.equal(vars.S3_ENDPOINT, 'http://127.79.64.31:25745');
  assert.equal(vars.S3_BUCKET, 'veza-objects');
  const password = vars.S3_SECRET_KEY!;
  const pid = livePid(m.nodes[0]!.pidFile, 'minio')!;
  assert.ok(pid, 'minio runs');
  assert.ok(!log.lines.some((l) => l.includes(password)), 'the root password never reaches the log');
  assert.ok(!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(password), 'nor the server argv');

  const mcEnv = { ...process.env, MC_HOST_veza: `http://veza:${encodeURIComponent(password)}@127.79.64.31:25745`, MC_CONFIG_DIR: join(dir, 'mc') };
  const ok = (args: string[], input?: Buffer) => {
    const r = spawnSync(m.mc, ['--no-color', ...args], { env: mcEnv, input, maxBuffer: 16 << 20 });
    assert.equal(r.status, 0, `mc ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  assert.match(ok(['version', 'info', 'veza/veza-objects']).toString(), /versioning is enabled/i);
  assert.match(ok(['ilm', 'rule', 'ls', '--json', 'veza/veza-objects']).toString(), /"NoncurrentDays":\s*30/);

  const objects = Array.from({ length: 4 }, (_, i) => ({ key: `segments/${i}.ts`, body: randomBytes(100_000 + i * 37_000) }));
  for (const o of objects) ok(['pipe', `veza/veza-objects/${o.key}`], o.body);
  for (const o of objects) assert.equal(sha256(ok(['cat', `veza/veza-objects/${o.key}`])), sha256(o.body), `${o.key} reads back`);

  const again = await tier().provision();
  assert.deepEqual(again.steps.filter((s) => s.title.includes(': start on')), [], 'a running node is left alone');
  assert.equal(livePid(m.nodes[0]!.pidFile, 'minio'), pid);
  assert.equal(sha256(ok(['cat', 'veza/veza-objects/segments/0.ts'])), sha256(objects[0]!.body));
});
