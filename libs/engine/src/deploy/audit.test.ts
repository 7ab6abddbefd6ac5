import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDirStateStore } from '../ports/state-store';
import { clearSecretsForTest, registerSecret } from '../log/redact';
import { AUDIT_KEY, appendAudit, auditEntrySchema, beginAudit, readAudit, type AuditEntry } from './audit';

const SHA = 'b'.repeat(40);

async function tempStore(t: TestContext) {
  const dir = await mkdtemp(join(tmpdir(), 'veza-audit-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return { dir, store: createDirStateStore(dir) };
}

function clock(...isoTimes: string[]) {
  const times = isoTimes.map((s) => new Date(s));
  return () => times.shift() ?? assert.fail('clock read too often');
}

test('an action appends one JSON line with who, when, env, sha, colours, outcome and duration', async (t) => {
  const { dir, store } = await tempStore(t);
  const a = beginAudit(store, { action: 'deploy', env: 'prod', sha: SHA, from: 'blue', to: 'green' }, {
    now: clock('2026-04-29T12:00:00.000Z', '2026-04-29T12:00:42.500Z'),
    actor: { user: 'alice', host: 'r720' },
  });
  const entry = await a.finish('success');
  const expected: AuditEntry = {
    time: '2026-04-29T12:00:00.000Z', action: 'deploy', env: 'prod', sha: SHA, from: 'blue', to: 'green',
    outcome: 'success', durationMs: 42_500, user: 'alice', host: 'r720',
  };
  assert.deepEqual(entry, expected);
  const text = await readFile(join(dir, AUDIT_KEY), 'utf8');
  assert.equal(text, JSON.stringify(expected) + '\n');
});

test('the log is append-only and reads newest first, filtered by env and limited', async (t) => {
  const { dir, store } = await tempStore(t);
  const actor = { user: 'ci', host: 'runner' };
  const base = { sha: SHA, from: 'blue' as const, to: 'green' as const, durationMs: 1, user: 'ci', host: 'runner' };
  await appendAudit(store, { ...base, time: '2026-01-01T00:00:01Z', action: 'deploy', env: 'staging', outcome: 'success' });
  await appendAudit(store, { ...base, time: '2026-01-01T00:00:02Z', action: 'deploy', env: 'prod', outcome: 'failure', message: 'verify failed' });
  await beginAudit(store, { action: 'cleanup', env: 'prod', to: null }, { actor }).finish('noop', { message: 'green already absent' });
  await appendAudit(store, { ...base, time: '2026-01-01T00:00:04Z', action: 'rollback', env: 'staging', outcome: 'success', from: 'green', to: 'blue' });
  const before = await readFile(join(dir, AUDIT_KEY), 'utf8');
  await appendAudit(store, { ...base, time: '2026-01-01T00:00:05Z', action: 'switch', env: 'prod', outcome: 'success' });
  assert.ok((await readFile(join(dir, AUDIT_KEY), 'utf8')).startsWith(before), 'earlier lines are never rewritten');

  assert.deepEqual((await readAudit(store)).map((e) => `${e.env}:${e.action}`), ['prod:switch', 'staging:rollback', 'prod:cleanup', 'prod:deploy', 'staging:deploy']);
  assert.deepEqual((await readAudit(store, { env: 'prod' })).map((e) => e.action), ['switch', 'cleanup', 'deploy']);
  assert.deepEqual((await readAudit(store, { env: 'staging', limit: 1 })).map((e) => e.action), ['rollback']);
  const cleanup = (await readAudit(store, { env: 'prod' }))[1]!;
  assert.equal(cleanup.sha, null);
  assert.equal(cleanup.outcome, 'noop');
  assert.equal(cleanup.message, 'green already absent');
});

test('a line cut short by a crash is skipped, the rest still reads', async (t) => {
  const { store } = await tempStore(t);
  const e = { time: '2026-01-01T00:00:01Z', action: 'deploy' as const, env: 'prod', sha: SHA, from: null, to: 'green' as const, outcome: 'success' as const, durationMs: 5, user: 'u', host: 'h' };
  await appendAudit(store, e);
  await store.append(AUDIT_KEY, JSON.stringify(e).slice(0, 30));
  await appendAudit(store, { ...e, action: 'switch' });
  assert.deepEqual((await readAudit(store)).map((x) => x.action), ['switch', 'deploy']);
  assert.deepEqual(await readAudit(createDirStateStore(join(tmpdir(), 'veza-audit-absent'))), []);
});

test('secrets never reach the audit log, and malformed entries are refused', async (t) => {
  const { dir, store } = await tempStore(t);
  registerSecret('hunter2-registry-token');
  t.after(clearSecretsForTest);
  await beginAudit(store, { action: 'deploy', env: 'prod', sha: SHA }, { actor: { user: 'u', host: 'h' } })
    .finish('failure', { message: 'PUT https://x:hunter2-registry-token@reg/ failed' });
  const text = await readFile(join(dir, AUDIT_KEY), 'utf8');
  assert.ok(!text.includes('hunter2'));
  assert.match(text, /x:\*\*\*@reg/);
  assert.ok(auditEntrySchema.safeParse(JSON.parse(text)).success);

  assert.throws(() => beginAudit(store, { action: 'deploy', env: '../etc' }), /invalid environment name/);
  assert.throws(() => beginAudit(store, { action: 'deploy', env: 'prod', sha: 'main' }), /invalid version "main"/);
  await assert.rejects(beginAudit(store, { action: 'deploy', env: 'prod' }).finish('success', { sha: 'main' }), /invalid audit entry: sha/);
});
