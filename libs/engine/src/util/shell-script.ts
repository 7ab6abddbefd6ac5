import { readFileSync } from 'node:fs';

/**
 * The engine's shell scripts (run with `sh -c` or `bash -c`, their data as
 * positional arguments or on stdin) live in .sh and .bash files so shellcheck
 * reads them (`npm run lint`). They are found through @veza/engine's exports,
 * as the local driver finds its supervisor, so the esbuild bundles Nx runs
 * read the same files. The file's final newline is dropped: the argv stays
 * byte for byte what it was when the scripts were inline strings.
 */
export function shellScript(enginePath: string): string {
  return readFileSync(require.resolve(`@veza/engine/${enginePath}`), 'utf8').replace(/\n$/, '');
}
