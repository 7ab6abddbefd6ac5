// The deploy engine as its own process, for tests that must watch or kill
// a deploy from outside: argv <workspace> <env> <sha> [--on-signal]
// [--stop-at=<phase>]. Progress goes to stdout as JSON events (--json); the
// exit code is 0 on success, 1 on failure. With --on-signal it loads, prints
// "ready" and deploys only on SIGUSR2, so a test can pay the start-up while
// it does something else. With --stop-at it stops itself (SIGSTOP) right
// after printing that phase's start, so a SIGKILL sent on that line lands
// exactly there: on a loaded machine a short phase (F) could otherwise end,
// and the deploy with it, before the kill arrived.
import { loadWorkspace } from '@veza/engine/config/workspace';
import { deploy } from '@veza/engine/deploy/deploy';
import { describeError } from '@veza/engine/log/errors';
import { createLogger } from '@veza/engine/log/logger';

const [workspaceRoot, env, sha, ...flags] = process.argv.slice(2);
const stopAt = flags.find((f) => f.startsWith('--stop-at='))?.slice('--stop-at='.length);

if (stopAt) {
  const startLine = new RegExp(`"event":"phase-start","time":"[^"]*","id":"${stopAt}"`);
  const write = process.stdout.write.bind(process.stdout) as (chunk: string | Uint8Array) => boolean;
  // Writes to a pipe are synchronous on Linux: the line is out before the process stops.
  process.stdout.write = ((chunk: string | Uint8Array) => {
    const ok = write(chunk);
    if (startLine.test(String(chunk))) process.kill(process.pid, 'SIGSTOP');
    return ok;
  }) as typeof process.stdout.write;
}

function run(): void {
  loadWorkspace(workspaceRoot!).then((workspace) => deploy({ workspace, env, sha, json: true, log: createLogger({ format: 'json' }) })).then(
    () => process.exit(0),
    (e) => {
      process.stderr.write(describeError(e) + '\n');
      process.exit(1);
    },
  );
}

if (flags.includes('--on-signal')) {
  process.once('SIGUSR2', run);
  process.stdout.write('ready\n');
  // Keeps the event loop alive until the signal comes.
  setInterval(() => undefined, 60_000);
} else {
  run();
}
