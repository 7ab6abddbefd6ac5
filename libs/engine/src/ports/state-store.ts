import { promises as fs } from 'node:fs';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { VezaError } from '../log/errors';
import { writeFileAtomic } from '../util/atomic';

/**
 * Where an environment's deploy state lives (active colour, history, lock,
 * audit log, metrics). On Incus that is the edge container; locally a
 * directory. Keys are relative paths like `active-color-prod`.
 */
export interface StateStore {
  /** For messages: where this state lives. */
  readonly location: string;
  read(key: string): Promise<string | undefined>;
  /** Atomic replace: readers see the old or the new content, never a torn one. */
  write(key: string, data: string, mode?: number): Promise<void>;
  /** Appends one line; used for append-only logs. */
  append(key: string, line: string): Promise<void>;
  /** Creates the key only if absent; false when it already exists (lock files). */
  createExclusive(key: string, data: string): Promise<boolean>;
  remove(key: string): Promise<void>;
}

const KEY = /^[a-z0-9][a-z0-9._-]*(\/[a-z0-9][a-z0-9._-]*)*$/;

export function checkKey(key: string): string {
  if (!KEY.test(key) || key.includes('..')) {
    throw new VezaError(`invalid state key ${JSON.stringify(key)}`, 'this is a bug in the caller; state keys are relative lower-case paths');
  }
  return key;
}

export function createDirStateStore(root: string): StateStore {
  const path = (key: string) => join(root, checkKey(key));
  return {
    location: root,
    async read(key) {
      try {
        return await fs.readFile(path(key), 'utf8');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw e;
      }
    },
    async write(key, data, mode) {
      await writeFileAtomic(path(key), data, { mode });
    },
    async append(key, line) {
      const p = path(key);
      await fs.mkdir(dirname(p), { recursive: true });
      // One write() call per line with O_APPEND keeps concurrent appenders from interleaving.
      const fh = await fs.open(p, 'a', 0o644);
      try {
        await fh.write(line.endsWith('\n') ? line : line + '\n');
        await fh.sync();
      } finally {
        await fh.close();
      }
    },
    async createExclusive(key, data) {
      const p = path(key);
      await fs.mkdir(dirname(p), { recursive: true });
      // Write the content to a temp file first, then link() it into place:
      // link fails if the key exists, and a reader never sees an empty lock.
      const tmp = `${p}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
      await fs.writeFile(tmp, data, { mode: 0o644 });
      try {
        await fs.link(tmp, p);
        return true;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
        throw e;
      } finally {
        await fs.rm(tmp, { force: true });
      }
    },
    async remove(key) {
      await fs.rm(path(key), { force: true });
    },
  };
}
