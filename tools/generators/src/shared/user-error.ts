import type { Tree } from '@nx/devkit';
import { isVezaError } from '@veza/engine/log/errors';

/**
 * Wraps a generator so bad input reaches the user as one line: what went
 * wrong — what to do. Nx prints an error's first line as its title and adds
 * a "--verbose for the stacktrace" line whenever there is a stack; a user
 * error has nothing worth tracing, so its stack is dropped.
 */
export function userFacing<O>(generator: (tree: Tree, options: O) => void | Promise<void>): (tree: Tree, options: O) => Promise<void> {
  return async (tree, options) => {
    try {
      await generator(tree, options);
    } catch (e) {
      if (!isVezaError(e)) throw e;
      const line = new Error(e.toLine());
      line.stack = '';
      throw line;
    }
  };
}
