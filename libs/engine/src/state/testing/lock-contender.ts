// A separate process competing for a deploy lock, for the race tests in
// lock.test.ts. argv: <state dir> <env> <attempts>. Prints "ready", waits for
// "go" on stdin, tries <attempts> acquisitions at once, prints one JSON result
// line, then holds whatever it won until stdin closes (so a winner stays alive).
import { createInterface } from 'node:readline';
import { createDirStateStore } from '../../ports/state-store';
import { acquireLock, envLock } from '../lock';

const [dir, env, attempts] = process.argv.slice(2);
const store = createDirStateStore(dir!);
const rl = createInterface({ input: process.stdin });

rl.on('line', async (line) => {
  if (line !== 'go') return;
  const results = await Promise.allSettled(
    Array.from({ length: Number(attempts) }, () => acquireLock(store, envLock(env!), { action: 'deploy', user: `child-${process.pid}` })),
  );
  const tokens = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value.holder.token] : []));
  const errors = results.flatMap((r) => (r.status === 'rejected' ? [{ code: (r.reason as { code?: string }).code, message: String((r.reason as Error).message) }] : []));
  process.stdout.write(JSON.stringify({ pid: process.pid, tokens, errors }) + '\n');
});
rl.on('close', () => process.exit(0));
process.stdout.write('ready\n');
