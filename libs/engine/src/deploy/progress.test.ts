import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VezaError } from '../log/errors';
import { clearSecretsForTest, registerSecret } from '../log/redact';
import type { LogFormat } from '../log/logger';
import { createProgress, formatDuration, formatEvent, type ProgressEvent } from './progress';

const T = '2026-04-29T12:00:00.000Z';

test('durations read naturally at every scale', () => {
  assert.equal(formatDuration(0), '0ms');
  assert.equal(formatDuration(340.4), '340ms');
  assert.equal(formatDuration(3200), '3.2s');
  assert.equal(formatDuration(59_940), '59.9s');
  assert.equal(formatDuration(125_000), '2m05s');
});

test('pretty lines: symbol, aligned phase label, right-aligned duration, detail', () => {
  const end = (status: 'ok' | 'failed' | 'skipped', durationMs: number, detail?: string): ProgressEvent => ({ event: 'phase-end', time: T, id: 'C', title: 'slots', status, durationMs, ...(detail ? { detail } : {}) });
  const f = (e: ProgressEvent) => formatEvent(e, { mode: 'pretty' });
  assert.equal(f(end('ok', 3200)), '✔ C slots' + ' '.repeat(17) + '3.2s');
  assert.equal(f(end('failed', 61_000, 'veza-api-green: health check timed out')), '✖ C slots' + ' '.repeat(16) + '1m01s  veza-api-green: health check timed out');
  assert.equal(f(end('skipped', 0, 'dry run')), '- C slots' + ' '.repeat(23) + 'dry run');
  assert.equal(f({ event: 'phase-start', time: T, id: 'A', title: 'migrations' }), '… A migrations');
  assert.equal(f({ event: 'step', time: T, id: 'C', message: 'veza-api-green healthy' }), '    veza-api-green healthy');
  assert.equal(f({ event: 'summary', time: T, title: 'deploy prod 0123456789ab → green', outcome: 'success', durationMs: 12_400, phases: [] }), '✔ deploy prod 0123456789ab → green: done in 12.4s');
  assert.equal(f({ event: 'summary', time: T, title: 'deploy local', outcome: 'noop', durationMs: 80, message: 'already deployed', phases: [] }), '= deploy local: nothing to do in 80ms — already deployed');
  // The same columns whatever the label length, so a run reads as a table.
  const widths = ['A migrations', 'B active colour', 'F verify'].map((label) => {
    const [id, ...title] = label.split(' ');
    return f({ event: 'phase-end', time: T, id: id!, title: title.join(' '), status: 'ok', durationMs: 800 }).length;
  });
  assert.deepEqual(new Set(widths).size, 1);
  assert.equal(formatEvent(end('ok', 3200), { mode: 'pretty', color: true }), '\x1b[32m✔\x1b[0m C slots' + ' '.repeat(17) + '3.2s');
});

test('plain lines for CI name the phase in brackets and never use colour', () => {
  const f = (e: ProgressEvent) => formatEvent(e, { mode: 'plain', color: true });
  assert.equal(f({ event: 'phase-start', time: T, id: 'E', title: 'switch' }), '[E] switch: started');
  assert.equal(f({ event: 'phase-end', time: T, id: 'E', title: 'switch', status: 'ok', durationMs: 450 }), '[E] switch: ok in 450ms');
  assert.equal(f({ event: 'phase-end', time: T, id: 'F', title: 'verify', status: 'failed', durationMs: 30_000, detail: 'status reports abc' }), '[F] verify: FAILED after 30.0s: status reports abc');
  assert.equal(f({ event: 'phase-end', time: T, id: 'A', title: 'migrations', status: 'skipped', durationMs: 0, detail: 'no migrations' }), '[A] migrations: skipped: no migrations');
  assert.equal(f({ event: 'step', time: T, id: 'D', message: 'probe ok' }), '[D] probe ok');
  assert.equal(f({ event: 'step', time: T, message: 'lock taken' }), 'lock taken');
  assert.equal(
    f({ event: 'summary', time: T, title: 'deploy prod', outcome: 'failure', durationMs: 31_000, message: 'switched back to blue', phases: [
      { id: 'A', title: 'migrations', status: 'ok', durationMs: 800 },
      { id: 'F', title: 'verify', status: 'failed', durationMs: 30_000 },
    ] }),
    'deploy prod: failure in 31.0s (A 800ms, F 30.0s FAILED) — switched back to blue',
  );
});

test('json mode writes one parseable object per event', () => {
  const e: ProgressEvent = { event: 'phase-end', time: T, id: 'C', title: 'slots', status: 'ok', durationMs: 3200 };
  const line = formatEvent(e, { mode: 'json' });
  assert.ok(!line.includes('\n'));
  assert.deepEqual(JSON.parse(line), e);
});

test('a plan step is one JSON event carrying the step, and its own lines in text', async () => {
  const step = { kind: 'write-file', path: '/state/history-prod.json', diff: '--- a\n+++ b\n@@ -1 +1 @@\n-x\n+y\n' } as const;
  const lines: Record<LogFormat, string[]> = { json: [], plain: [], pretty: [] };
  for (const mode of ['json', 'plain', 'pretty'] as LogFormat[]) {
    const p = createProgress({ title: 'deploy prod', mode, color: false, write: (l) => lines[mode].push(l), now: () => 0 });
    await p.phase('record', 'record', async () => p.planned(step));
  }
  const event = JSON.parse(lines.json[1]!) as ProgressEvent;
  assert.deepEqual(event, { event: 'plan', time: new Date(0).toISOString(), id: 'record', step });
  assert.equal(lines.plain[1], '[record] [plan] write /state/history-prod.json:\n--- a\n+++ b\n@@ -1 +1 @@\n-x\n+y');
  assert.equal(lines.pretty[1], '    [plan] write /state/history-prod.json:\n--- a\n+++ b\n@@ -1 +1 @@\n-x\n+y');
});

test('a run reports every phase with its timing, marks a failure, and sums up', async () => {
  for (const mode of ['pretty', 'plain', 'json'] as LogFormat[]) {
    const lines: string[] = [];
    let clock = 1_000;
    const p = createProgress({ title: 'deploy prod', mode, color: false, write: (l) => lines.push(l), now: () => clock });
    await p.phase('A', 'migrations', async (ctx) => {
      clock += 800;
      ctx.note('2 applied');
    });
    p.skip('B', 'colour', 'first deploy');
    const boom = new VezaError('veza-api-green never became healthy', 'read its log');
    await assert.rejects(p.phase('C', 'slots', async (ctx) => {
      ctx.step('creating veza-api-green');
      clock += 3200;
      throw boom;
    }), (e) => e === boom);
    p.step('kept the failed slots');
    const s = p.summary('failure', 'the old colour keeps serving');
    assert.equal(s.durationMs, 4000);
    assert.deepEqual(p.phases.map((x) => [x.id, x.status, x.durationMs]), [['A', 'ok', 800], ['B', 'skipped', 0], ['C', 'failed', 3200]]);
    if (mode === 'json') {
      const events = lines.map((l) => JSON.parse(l) as ProgressEvent);
      assert.deepEqual(events.map((e) => e.event), ['phase-start', 'phase-end', 'phase-end', 'phase-start', 'step', 'phase-end', 'step', 'summary']);
      assert.deepEqual(events[4], { event: 'step', time: new Date(1800).toISOString(), id: 'C', message: 'creating veza-api-green' });
      assert.equal((events[5] as { detail: string }).detail, 'veza-api-green never became healthy — read its log');
      assert.equal(events[6]!.event === 'step' && events[6]!.id, undefined);
    } else if (mode === 'plain') {
      assert.deepEqual(lines, [
        '[A] migrations: started',
        '[A] migrations: ok in 800ms: 2 applied',
        '[B] colour: skipped: first deploy',
        '[C] slots: started',
        '[C] creating veza-api-green',
        '[C] slots: FAILED after 3.2s: veza-api-green never became healthy — read its log',
        'kept the failed slots',
        'deploy prod: failure in 4.0s (A 800ms, B skipped, C 3.2s FAILED) — the old colour keeps serving',
      ]);
    } else {
      assert.equal(lines[1], '✔ A migrations' + ' '.repeat(11) + '800ms  2 applied');
      assert.equal(lines[7], '✖ deploy prod: FAILED in 4.0s — the old colour keeps serving');
    }
  }
});

test('secrets in progress lines are redacted in every mode', (t) => {
  registerSecret('s3cr3t-token-value');
  t.after(clearSecretsForTest);
  const e: ProgressEvent = { event: 'step', time: T, message: 'GET https://u:s3cr3t-token-value@reg/x' };
  for (const mode of ['pretty', 'plain', 'json'] as LogFormat[]) assert.ok(!formatEvent(e, { mode }).includes('s3cr3t'));
});
