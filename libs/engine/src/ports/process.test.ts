import { test } from 'node:test';
import assert from 'node:assert/strict';
import { commandFailed } from './process';

test("a failed command's message names a sh -c script by its size and keeps the failure's own last lines", () => {
  const script = 'set -eu\nmigrate_tool up\necho done\n';
  const e = commandFailed({ argv: ['incus', 'exec', 'veza-api-tools', '--', 'sh', '-c', script, 'veza', 'arg 1'], description: "apply veza-api's migrations" }, { exitCode: 1, stdout: '', stderr: 'connecting\nERROR: relation "x" exists\n' });
  assert.equal(e.message, `command failed (exit 1): incus exec veza-api-tools -- sh -c '<3-line script>' veza 'arg 1': connecting | ERROR: relation "x" exists`);
  assert.equal(e.hint, "this step was: apply veza-api's migrations; fix the cause above and re-run");
});
