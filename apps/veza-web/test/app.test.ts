import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createElement } from 'react';
import { renderToString } from 'react-dom/server';
import { App } from '../ui/App';
import { fetchApiView, viewOf, type ApiView } from '../ui/api-status';

const RELEASE = 'ab'.repeat(20);

/** The rendered page's text, one fact per line: what a reader sees. */
function facts(html: string): string[] {
  return [...html.matchAll(/<dt>([^<]*)<\/dt><dd(?: class="([^"]*)")?>([^<]*)<\/dd>/g)].map(([, dt, cls, dd]) => `${dt}: ${dd}${cls ? ` [${cls}]` : ''}`);
}

const render = (api?: ApiView) => renderToString(createElement(App, { release: RELEASE, api }));

test('the page shows the release it was built as, and "checking…" until the API answers', () => {
  const html = render();
  assert.match(html, /^<main class="page"><h1>Veza<\/h1>/);
  assert.deepEqual(facts(html), [`Web release: ${RELEASE} [mono]`, 'API: checking…']);
});

test('a live API shows its colour, release and schema version', () => {
  const api = viewOf({ release: 'cd'.repeat(20), color: 'green', database: 'ok', schemaVersion: '0002_playlists' });
  assert.deepEqual(facts(render(api)), [`Web release: ${RELEASE} [mono]`, 'API: up (green) [ok]', `API release: ${'cd'.repeat(20)} [mono]`, 'Schema: 0002_playlists [mono]']);
});

test('an API whose database is down says so in the schema line, in the error tone', () => {
  const api = viewOf({ release: null, color: null, database: 'unreachable', schemaVersion: null });
  assert.deepEqual(facts(render(api)).slice(1), ['API: up (no colour) [ok]', 'API release: unknown [mono]', 'Schema: database unreachable [mono error]']);
});

test('an unreachable API is shown with the reason', async () => {
  const failing = (async () => new Response('bad gateway', { status: 502 })) as typeof fetch;
  const view = await fetchApiView(failing);
  assert.deepEqual(view, { state: 'unreachable', reason: 'HTTP 502' });
  assert.deepEqual(facts(render(view)).slice(1), ['API: unreachable (HTTP 502) [error]']);
});

test('fetchApiView reads /api/v1/status as JSON', async () => {
  const asked: string[] = [];
  const ok = (async (url: string) => {
    asked.push(url);
    return Response.json({ release: RELEASE, color: 'blue', database: 'ok', schemaVersion: null });
  }) as unknown as typeof fetch;
  assert.deepEqual(await fetchApiView(ok), { state: 'up', color: 'blue', release: RELEASE, schema: 'no migrations', schemaOk: true });
  assert.deepEqual(asked, ['/api/v1/status']);
});
