import { execFile } from 'node:child_process';
import { join } from 'node:path';

/**
 * The operator CLI as an operator runs it: `veza <words>` as its own
 * process (this checkout's tools/veza/bin/veza.js), in `cwd` — the
 * workspace it acts on is the one it finds from there.
 */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

const BIN = join(__dirname, '..', '..', '..', 'tools', 'veza', 'bin', 'veza.js');

export function veza(cwd: string, words: string[], env: NodeJS.ProcessEnv = process.env): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...words], { cwd, env, timeout: 120_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}
