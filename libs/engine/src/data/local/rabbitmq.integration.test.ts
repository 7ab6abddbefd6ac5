import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { connect } from 'amqplib';
import { localDataEnv, localDataTier } from './testing/tier';
import { livePid } from './pids';
import { localRabbit } from './rabbitmq';

/**
 * Seed 001's RabbitMQ on a real local broker (Debian's rabbitmq-server):
 * vhost /veza, the app user with .* permissions, a message published and
 * consumed as that user; a second provision changes nothing.
 */
const rabbitEnv = () => localDataEnv('rabbit', '127.79.63', { postgres: { port: 25731 }, rabbitmq: { port: 25732, distPort: 25733, epmdPort: 25734 } });

test('rabbitmq: vhost /veza and the app user, publish and consume as that user; a second provision changes nothing', async (t) => {
  const env = rabbitEnv();
  const { tier, log, dataRoot } = await localDataTier(t, env);

  const first = await tier().provision();
  const titles = first.steps.map((s) => s.title);
  for (const want of ['add vhost /veza', 'ensure user veza with its password', 'grant veza configure/write/read .* on /veza', 'remove the default guest user']) {
    assert.ok(titles.some((x) => x.endsWith(want)), `${want} in:\n${titles.join('\n')}`);
  }
  const rabbit = localRabbit(env, dataRoot)!;
  const pid = livePid(rabbit.pidFile, 'beam');
  assert.ok(pid, 'the broker runs');

  const { AMQP_URL: url } = await tier().serviceEnv!();
  assert.match(url!, /^amqp:\/\/veza:[^@]+@127\.79\.63\.2:25732\/%2Fveza$/);
  const password = decodeURIComponent(new URL(url!).password);
  assert.ok(!log.lines.some((l) => l.includes(password)), 'the password never reaches the log');
  assert.ok(!(await fs.readFile(`/proc/${pid}/cmdline`, 'utf8')).includes(password), 'nor the broker argv');

  const conn = await connect(url!);
  t.after(() => conn.close().catch(() => undefined));
  const ch = await conn.createChannel();
  const q = await ch.assertQueue('', { exclusive: true });
  ch.sendToQueue(q.queue, Buffer.from('hello /veza'));
  const got = await new Promise<string>((resolve) => void ch.consume(q.queue, (m) => m && (ch.ack(m), resolve(m.content.toString()))));
  assert.equal(got, 'hello /veza');

  await assert.rejects(connect(`amqp://guest:guest@127.79.63.2:25732/%2Fveza`), 'guest/guest is gone');

  const second = await tier().provision();
  assert.deepEqual(second.steps.filter((s) => s.title.startsWith('rabbitmq')), [], 'nothing to change');
  assert.equal(livePid(rabbit.pidFile, 'beam'), pid, 'the same broker runs on');
  assert.ok(second.notes.some((n) => n === `rabbitmq of ${env.name} runs (pid ${pid})`));
});
