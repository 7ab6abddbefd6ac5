import WebSocket from 'ws';

/**
 * A WebSocket session through the edge that sends a numbered message every
 * `intervalMs` and checks each echo: which colour and release answered,
 * whether one ever came from elsewhere, and whether a number was skipped (a
 * dropped message). It never reconnects: the test and the bench watch one
 * session's whole life.
 *
 * Two servers: the e2e stand-in (`/api/ws`) names its colour and release in
 * every echo (`<colour> <release> <n>`); the real veza-api (`/api/v1/ws`)
 * names them once, in the JSON hello that opens the session, then echoes
 * each frame as it is.
 */
export interface EchoSession {
  /** The colour and release that answered the first echo. */
  color: string;
  release: string;
  /** The sticky cookie the edge set on the upgrade (`name=value`). */
  cookie: string;
  sent: number;
  echoed: number;
  /** Echoes from another colour or release than the first one. */
  strays: number;
  /** Numbers whose echo never came although a later one did. */
  dropped: number;
  /** When the session ended (performance.now()) and the close code the peer sent. */
  closed?: { at: number; code: number };
  /** Resolves once `n` echoes have arrived; rejects if the session closes first. */
  echoes(n: number): Promise<void>;
  /** Normal closure (1000) from the client; resolves when the socket is closed. */
  close(): Promise<void>;
}

export function openEchoSession(edge: { host: string; port: number; hostHeader: string }, opts: { intervalMs: number; cookie?: string; server?: 'stand-in' | 'veza-api' }): Promise<EchoSession> {
  const hello = opts.server === 'veza-api';
  const ws = new WebSocket(`ws://${edge.host}:${edge.port}${hello ? '/api/v1/ws' : '/api/ws'}`, { headers: { host: edge.hostHeader, ...(opts.cookie ? { cookie: opts.cookie } : {}) } });
  let named: () => void, unnamed: (e: Error) => void;
  const known = new Promise<void>((resolve, reject) => ([named, unnamed] = [resolve, reject]));
  const waiters: { n: number; done: () => void; fail: (e: Error) => void }[] = [];
  let timer: NodeJS.Timeout | undefined;
  const s: EchoSession = {
    color: '', release: '', cookie: '', sent: 0, echoed: 0, strays: 0, dropped: 0,
    echoes: (n) => new Promise((done, fail) => {
      if (s.echoed >= n) done();
      else if (s.closed) fail(closedEarly(s, n));
      else waiters.push({ n, done, fail });
    }),
    close: () => new Promise((done) => {
      clearInterval(timer);
      if (s.closed) return done();
      ws.once('close', () => done());
      ws.close(1000);
    }),
  };
  ws.on('upgrade', (res) => {
    s.cookie = [res.headers['set-cookie'] ?? []].flat().map((c) => c.split(';')[0]!).find((c) => c.includes('=')) ?? '';
  });
  ws.on('message', (data) => {
    if (hello && !s.color) {
      const h = JSON.parse(String(data)) as { color: string; release: string };
      Object.assign(s, { color: h.color, release: h.release });
      return named();
    }
    const [color, release, n] = hello ? [s.color, s.release, String(data)] : String(data).split(' ');
    if (!s.color) {
      Object.assign(s, { color, release });
      named();
    }
    if (color !== s.color || release !== s.release) s.strays++;
    // Echoes come back in order on one connection: a number beyond the next expected one means those between were lost.
    s.dropped += Number(n) - (s.echoed + s.dropped) - 1;
    s.echoed++;
    for (const w of waiters.filter((x) => s.echoed >= x.n)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.done();
    }
  });
  ws.on('close', (code) => {
    clearInterval(timer);
    s.closed = { at: performance.now(), code };
    unnamed(new Error(`the session closed (code ${code}) before it named its colour`));
    for (const w of waiters.splice(0)) w.fail(closedEarly(s, w.n));
  });
  return new Promise((resolve, reject) => {
    ws.once('error', reject);
    ws.once('open', () => {
      const send = () => ws.readyState === WebSocket.OPEN && ws.send(String(++s.sent));
      send();
      timer = setInterval(send, opts.intervalMs);
      // The session is ready once it knows its colour.
      known.then(() => resolve(s), reject);
    });
  });
}

function closedEarly(s: EchoSession, n: number): Error {
  return new Error(`the session on ${s.color} closed (code ${s.closed?.code}) after ${s.echoed} of the ${n} echoes awaited`);
}
