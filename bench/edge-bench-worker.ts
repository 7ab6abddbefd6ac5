/**
 * Child processes of bench/edge-switch-bench.ts, so the load, the backends
 * and the switch each get their own event loop (as in real life, where the
 * switch is its own command): `backends <octet> <sub>` serves blue and green;
 * `load <origin> <host> <clients> <max> <rate> <slowMs>` drives keep-alive requests until told
 * to stop, then reports its counts; with slowMs > 0 one more client keeps a request that
 * takes slowMs in flight all the time. Both talk to the parent over IPC.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import { startBackends } from '@veza/engine/edge/testing/edge-fixture';

const [role, ...args] = process.argv.slice(2);
const send = (m: unknown) => process.send!(m);

async function backends(octet: number, sub: number) {
  const b = await startBackends(octet, { name: 'bench', sub, hosts: ['bench.test'] });
  process.on('message', async (m) => {
    if (m === 'stop') {
      await b.close();
      process.exit(0);
    }
  });
  send('ready');
}

/** `rate`: requests per second across all clients (0: as fast as possible). */
async function load(origin: string, host: string, clients: number, max: number, rate: number, slowMs: number) {
  const paths = ['/', '/api/v1/items', '/assets/app.js', '/api/v1/me'];
  const pool = new Pool(origin, { connections: clients, pipelining: 1, keepAliveTimeout: 10_000 });
  const fig = { requests: 0, non2xx: 0, socketErrors: 0, errors: [] as string[] };
  let stop = false;
  process.on('message', (m) => {
    if (m === 'stop') stop = true;
  });
  const started = performance.now();
  const client = async (n: number) => {
    for (let i = n; !stop && fig.requests < max; i++) {
      // Paced: request k of the whole load is not sent before k/rate seconds.
      const due = rate > 0 ? started + (fig.requests / rate) * 1000 : 0;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      try {
        const res = await pool.request({ path: paths[i % paths.length]!, method: 'GET', headers: { host } });
        await res.body.dump();
        fig.requests++;
        if (res.statusCode < 200 || res.statusCode >= 300) {
          fig.non2xx++;
          if (fig.errors.length < 5) fig.errors.push(`HTTP ${res.statusCode}`);
        }
      } catch (e) {
        fig.requests++;
        fig.socketErrors++;
        if (fig.errors.length < 5) fig.errors.push((e as Error).message);
      }
    }
  };
  // Back to back on its own connection, outside the pacing: a long download always in flight.
  const slowPool = new Pool(origin, { connections: 1, pipelining: 1 });
  const slow = async () => {
    while (!stop && slowMs > 0) {
      try {
        const res = await slowPool.request({ path: `/slow/${slowMs}`, method: 'GET', headers: { host } });
        await res.body.dump();
        fig.requests++;
        if (res.statusCode !== 200) fig.non2xx++;
      } catch (e) {
        fig.requests++;
        fig.socketErrors++;
        if (fig.errors.length < 5) fig.errors.push((e as Error).message);
      }
    }
  };
  send('ready');
  await Promise.all([...Array.from({ length: clients }, (_, n) => client(n)), slow()]);
  await Promise.all([pool.close(), slowPool.close()]);
  send(fig);
  process.disconnect();
}

(role === 'backends' ? backends(Number(args[0]), Number(args[1])) : load(args[0]!, args[1]!, Number(args[2]), Number(args[3]), Number(args[4]), Number(args[5] ?? 0))).catch((e) => {
  console.error(e);
  process.exit(1);
});
