// The deploy engine as its own process, for tests that must watch or kill
// a deploy from outside: argv <workspace> <env> <sha> [--on-signal]. Progress
// goes to stdout as JSON events (--json); the exit code is 0 on success, 1 on
// failure. With --on-signal it loads, prints "ready" and deploys only on
// SIGUSR2, so a test can pay the start-up while it does something else.
import { loadWorkspace } from '@veza/engine/config/workspace';
import { deploy } from '@veza/engine/deploy/deploy';
import { describeError } from '@veza/engine/log/errors';
import { createLogger } from '@veza/engine/log/logger';

const [workspaceRoot, env, sha, mode] = process.argv.slice(2);

function run(): void {
  loadWorkspace(workspaceRoot!).then((workspace) => deploy({ workspace, env, sha, json: true, log: createLogger({ format: 'json' }) })).then(
    () => process.exit(0),
    (e) => {
      process.stderr.write(describeError(e) + '\n');
      process.exit(1);
    },
  );
}

if (mode === '--on-signal') {
  process.once('SIGUSR2', run);
  process.stdout.write('ready\n');
  // Keeps the event loop alive until the signal comes.
  setInterval(() => undefined, 60_000);
} else {
  run();
}
