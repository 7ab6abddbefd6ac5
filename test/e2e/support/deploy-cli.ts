// The deploy engine as its own process, for tests that must watch or kill
// a deploy from outside: argv <workspace> <env> <sha>. Progress goes to
// stdout as JSON events (--json); the exit code is 0 on success, 1 on failure.
import { deploy } from '@veza/engine/deploy/deploy';
import { describeError } from '@veza/engine/log/errors';
import { createLogger } from '@veza/engine/log/logger';

const [workspaceRoot, env, sha] = process.argv.slice(2);
deploy({ workspaceRoot: workspaceRoot!, env, sha, json: true, log: createLogger({ format: 'json' }) }).then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(describeError(e) + '\n');
    process.exit(1);
  },
);
