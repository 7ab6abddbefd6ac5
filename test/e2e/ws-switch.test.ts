import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deploy } from '@veza/engine/deploy/deploy';
import { cleanup } from '@veza/engine/deploy/cleanup';
import type { Color } from '@veza/engine/config/names';
import { e2eWorkspace, edgeSessions, setEdgeSetting } from './support/workspace';
import { openEchoSession, type EchoSession } from './support/echo-session';

/**
 * WebSockets across a blue/green switch on the real local tier (issue 15
 * part 4): sessions opened on the old colour stay on it through the switch,
 * echoing without a gap; new sessions — even with the old colour's sticky
 * cookie — land on the new colour; the old ones end only when their client
 * closes them or when the next deploy (or cleanup) stops the old colour's
 * slots, after waiting up to the edge's tunnelDrainMs. Addresses
 * 127.79.80.x, port 18480.
 */
const A = 'a9'.repeat(20);
const B = 'b9'.repeat(20);
const C = 'c9'.repeat(20);
const D = 'd9'.repeat(20);
const SESSIONS = 4;
const INTERVAL_MS = 50;

test('WebSockets across a switch: the old colour keeps its sessions, new ones go to the new colour, a deploy drains before it stops the old slots', { timeout: 240_000 }, async (t) => {
  const ws = await e2eWorkspace(t, 'ws', { octet: 80, websocket: true });
  const open = (cookie?: string) => openEchoSession(ws.edge, { intervalMs: INTERVAL_MS, cookie });
  const sessions: EchoSession[] = [];
  t.after(() => Promise.all(sessions.map((s) => s.close())));

  await ws.release(A);
  await deploy(await ws.options(A));
  const old = await Promise.all(Array.from({ length: SESSIONS }, () => open()));
  sessions.push(...old);
  const oldColor = old[0]!.color;
  assert.ok(old.every((s) => s.color === oldColor && s.release === A), `sessions on ${old.map((s) => `${s.color}/${s.release}`).join(', ')}`);

  await ws.release(B);
  await deploy(await ws.options(B));
  const fresh = await Promise.all([open(), open(), open(old[0]!.cookie)]);
  sessions.push(...fresh);
  const newColor = fresh[0]!.color;

  await t.test('the switch leaves the open sessions on the old colour, echoing without a gap', async () => {
    assert.notEqual(newColor, oldColor);
    const sentAfterSwitch = old.map((s) => s.sent);
    await Promise.all(old.map((s, i) => s.echoes(sentAfterSwitch[i]! + 5)));
    for (const s of old) {
      assert.equal(s.closed, undefined, 'still open');
      assert.equal(s.strays, 0, 'every echo from the old colour and release A');
      assert.equal(s.dropped, 0, 'no message lost');
    }
    assert.ok(await edgeSessions(ws, oldColor as Color) >= SESSIONS, 'the edge holds them to the old colour');
  });

  await t.test('new sessions land on the new colour, the old colour\'s sticky cookie included', () => {
    assert.deepEqual(fresh.map((s) => `${s.color} ${s.release}`), Array(3).fill(`${newColor} ${B}`));
    assert.ok(old[0]!.cookie.endsWith(`=${oldColor}`), `the old session's cookie: ${old[0]!.cookie}`);
  });

  await t.test('the next deploy waits up to tunnelDrainMs, then stopping the old slots closes what is left with 1001', async () => {
    await old[0]!.close();
    await old[1]!.close();
    assert.equal(old[0]!.closed?.code, 1000);
    await setEdgeSetting(ws, 'tunnelDrainMs', 2_000);
    await ws.release(C);
    const o = await ws.options(C);
    await deploy(o);
    const log = o.lines.join('\n');
    assert.match(log, new RegExp(`${SESSIONS - 2} session\\(s\\) open on ${oldColor} \\(WebSockets the switch left there\\): waiting up to 2\\.0 s`));
    assert.match(log, new RegExp(`${SESSIONS - 2} session\\(s\\) still open on ${oldColor} after \\d+\\.\\d s: stopping its slots closes them`));
    for (const s of old.slice(2)) {
      assert.equal(s.closed?.code, 1001, 'closed by the slot going away');
      assert.equal(s.strays, 0);
      assert.equal(s.dropped, 0);
    }
  });

  // Opened while C is live on the old colour: D retires them with it, and cleanup drains them.
  const beforeD: EchoSession[] = [];
  await t.test('sessions that close during the drain end it early', async () => {
    // C went live on the old colour: the fresh sessions are now the retired colour's.
    beforeD.push(...(await Promise.all([open(), open()])));
    sessions.push(...beforeD);
    await setEdgeSetting(ws, 'tunnelDrainMs', 120_000);
    await ws.release(D);
    const o = await ws.options(D);
    const write = o.write;
    o.write = (line) => {
      write(line);
      if (/waiting up to 120\.0 s/.test(line)) void Promise.all(fresh.map((s) => s.close()));
    };
    await deploy(o);
    const log = o.lines.join('\n');
    assert.match(log, new RegExp(`3 session\\(s\\) open on ${newColor} \\(WebSockets the switch left there\\): waiting up to 120\\.0 s`));
    assert.match(log, new RegExp(`every session on ${newColor} closed after \\d+\\.\\d s`));
    for (const s of fresh) {
      assert.equal(s.closed?.code, 1000, 'closed by its client, not by the slot');
      assert.equal(s.dropped, 0);
      assert.equal(s.strays, 0);
    }
  });

  await t.test('cleanup of the retired colour drains its sessions too, then its slots close them with 1001', async () => {
    assert.ok(beforeD.every((s) => s.color === oldColor && s.release === C && s.closed === undefined), 'open on the retired colour');
    await setEdgeSetting(ws, 'tunnelDrainMs', 1_000);
    const c = await ws.common();
    await cleanup({ ...c, color: oldColor });
    const log = c.lines.join('\n');
    assert.match(log, new RegExp(`2 session\\(s\\) open on ${oldColor} \\(WebSockets the switch left there\\): waiting up to 1\\.0 s`));
    assert.match(log, new RegExp(`2 session\\(s\\) still open on ${oldColor} after \\d+\\.\\d s`));
    for (const s of beforeD) {
      assert.equal(s.closed?.code, 1001);
      assert.equal(s.dropped, 0);
      assert.equal(s.strays, 0);
    }
  });
});

/**
 * The same switch with the real veza-api (its Go binary, Postgres, its
 * migrations; 127.79.130.x, port 18530): the colour a client sees is the one
 * the pipeline gave the slot (VEZA_COLOR), named by the API's own hello.
 */
test('WebSockets across a switch with the real veza-api: its hello names the old colour on the old sessions and the new one on new sessions, and its shutdown closes the old ones with 1001', { timeout: 300_000 }, async (t) => {
  const ws = await e2eWorkspace(t, 'wsreal', { octet: 130, realApi: true, websocket: true });
  const open = (cookie?: string) => openEchoSession(ws.edge, { intervalMs: INTERVAL_MS, cookie, server: 'veza-api' });
  const sessions: EchoSession[] = [];
  t.after(() => Promise.all(sessions.map((s) => s.close())));

  await ws.release(A);
  await deploy(await ws.options(A));
  const old = await Promise.all([open(), open()]);
  sessions.push(...old);
  const oldColor = old[0]!.color;
  assert.match(oldColor, /^(blue|green)$/);
  assert.ok(old.every((s) => s.color === oldColor && s.release === A), `hellos from ${old.map((s) => `${s.color}/${s.release}`).join(', ')}`);

  await ws.release(B);
  await deploy(await ws.options(B));
  const fresh = await Promise.all([open(), open(old[0]!.cookie)]);
  sessions.push(...fresh);
  const newColor = oldColor === 'blue' ? 'green' : 'blue';
  assert.deepEqual(fresh.map((s) => `${s.color} ${s.release}`), [`${newColor} ${B}`, `${newColor} ${B}`], 'new sessions, the old cookie\'s included, greeted by the new colour');

  const sent = old.map((s) => s.sent);
  await Promise.all(old.map((s, i) => s.echoes(sent[i]! + 5)));
  for (const s of old) {
    assert.equal(s.closed, undefined, 'the old sessions are still open after the switch');
    assert.equal(s.dropped, 0, 'no message lost');
  }

  await setEdgeSetting(ws, 'tunnelDrainMs', 1_000);
  await ws.release(C);
  const o = await ws.options(C);
  await deploy(o);
  assert.match(o.lines.join('\n'), new RegExp(`2 session\\(s\\) still open on ${oldColor} after \\d+\\.\\d s: stopping its slots closes them`));
  for (const s of old) {
    assert.equal(s.closed?.code, 1001, 'closed by veza-api going away');
    assert.equal(s.dropped, 0);
  }
});
