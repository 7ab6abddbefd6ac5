import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describePending, parsePending } from './pending-migrations';

test('parsePending: the pending lines of migrate_tool --status, in order; applied ones and notes are not', () => {
  const out = [
    'applied  0001_init.sql  2026-12-03T10:00:00Z',
    'pending  0002_playlists.sql',
    'pending  0003_tags.sql',
    'applied  0000_legacy.sql  2026-01-01T00:00:00Z  (not in this release)',
    '',
  ].join('\n');
  assert.deepEqual(parsePending(out), ['0002_playlists.sql', '0003_tags.sql']);
  assert.deepEqual(parsePending(''), []);
});

test('describePending: pending names, none, or unknown with why', () => {
  assert.equal(describePending({ component: 'veza-api', pending: ['0002_a.sql', '0003_b.sql'] }), 'veza-api migrations: 2 pending (0002_a.sql, 0003_b.sql)');
  assert.equal(describePending({ component: 'veza-api', pending: [] }), 'veza-api migrations: none pending');
  assert.equal(describePending({ component: 'veza-api', unknown: 'the database of prod: connection refused' }), 'veza-api migrations: unknown (the database of prod: connection refused)');
});
