import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RuntimeDeclaration } from '../config/component';
import { environmentSchema } from '../config/environment';
import type { EdgeHost, ProbeResult } from './edge-host';
import { describeProbe, probeColor } from './health';

const env = environmentSchema.parse({
  name: 'probe-test', driver: 'incus', prefix: 'veza-pt-', network: 'vezaptbr0', publicHosts: ['localhost'], publicUrl: 'http://localhost:18480',
  edge: 'veza-pt-haproxy', registry: { url: 'file:.veza/registry', owner: 'veza' }, incus: { project: 'veza-pt', image: 'veza-test-base', dnsSuffix: 'incus' },
});
const stream = { name: 'veza-stream', edge: {}, run: { port: 8082, health: '/stream/health' } } as unknown as RuntimeDeclaration;
const worker = { name: 'veza-worker', edge: null, run: { port: 9000, health: '/health' } } as unknown as RuntimeDeclaration;

/** An edge whose probes answer in the given order (the last one again once they run out), counting each. */
function edgeAnswering(answers: ProbeResult[]): EdgeHost & { asked: string[] } {
  const asked: string[] = [];
  return { asked, probe: async (h: string, port: number, path: string) => {
    asked.push(`${h}:${port}${path}`);
    return answers[Math.min(asked.length - 1, answers.length - 1)]!;
  } } as unknown as EdgeHost & { asked: string[] };
}

test('the switch\'s probe of a colour asks again when the edge got no answer, and takes an HTTP status at once', async () => {
  const noAnswer: ProbeResult = { ok: false, error: 'no HTTP status in curl\'s output (""): incus exec returned nothing' };
  const slow = edgeAnswering([noAnswer, { ok: true, status: 200 }]);
  const [p] = await probeColor(slow, env, [stream, worker], 'green');
  assert.equal(p!.result.ok, true, 'an `incus exec` that returned nothing is not a fact (seen under load: a healthy switch refused)');
  assert.deepEqual(slow.asked, ['veza-pt-stream-green.incus:8082/stream/health', 'veza-pt-stream-green.incus:8082/stream/health'], 'only routed components are probed');

  const failing = edgeAnswering([{ ok: false, status: 503 }, { ok: true, status: 200 }]);
  const [q] = await probeColor(failing, env, [stream], 'green');
  assert.equal(describeProbe(q!), 'veza-stream http://veza-pt-stream-green.incus:8082/stream/health: HTTP 503');
  assert.equal(failing.asked.length, 1, 'an HTTP answer is not asked again');

  const silent = edgeAnswering([noAnswer]);
  const [r] = await probeColor(silent, env, [stream], 'blue');
  assert.equal(describeProbe(r!), 'veza-stream http://veza-pt-stream-blue.incus:8082/stream/health: no HTTP status in curl\'s output (""): incus exec returned nothing');
  assert.equal(silent.asked.length, 3, 'bounded: three probes, then refused');
});
