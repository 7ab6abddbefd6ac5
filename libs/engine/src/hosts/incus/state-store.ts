import { posix } from 'node:path';
import { checkKey, type StateStore } from '../../ports/state-store';
import { commandFailed } from '../../ports/process';
import * as cli from './cli';
import { MISSING, type IncusClient } from './client';
import { shellScript } from '../../util/shell-script';

/**
 * Deploy state kept in files inside a container — the edge container, as the
 * seed kept /var/lib/veza on the HAProxy container — so every deployer that
 * reaches the Incus host sees one truth. Each operation is one `incus exec`
 * of a constant script; keys and modes are its arguments, contents its stdin.
 * Reads of a container that does not exist yet find nothing; the first write
 * calls `ensure`, which creates it.
 */
const APPEND = shellScript('hosts/incus/scripts/state-append.sh');
const REMOVE = shellScript('hosts/incus/scripts/state-remove.sh');
/** The lock file appears complete or not at all: written aside, then hard-linked into place, which fails if it exists. */
const CREATE_EXCLUSIVE = shellScript('hosts/incus/scripts/state-create-exclusive.sh');

export interface IncusStateStoreOptions {
  client: IncusClient;
  container: string;
  dir: string;
  /** Makes the container exist; called before the first write. */
  ensure: () => Promise<void>;
}

export function createIncusStateStore(o: IncusStateStoreOptions): StateStore {
  const path = (key: string) => posix.join(o.dir, checkKey(key));
  const absent = async () => !(await o.client.instance(o.container));
  const sh = (script: string, key: string, input: string, description: string) => cli.exec(o.client.scope, o.container, ['sh', '-c', script, 'veza', path(key)], { input, description });
  return {
    location: `${o.container}:${o.dir}`,
    async read(key) {
      try {
        return await o.client.readFile(o.container, path(key));
      } catch (e) {
        if (await absent()) return undefined;
        throw e;
      }
    },
    async write(key, data, mode) {
      await o.ensure();
      await o.client.writeFile(o.container, path(key), data, { mode: `0${(mode ?? 0o644).toString(8).padStart(3, '0')}`, description: `write state ${key}` });
    },
    async append(key, line) {
      await o.ensure();
      await o.client.run(sh(APPEND, key, line.endsWith('\n') ? line : line + '\n', `append to state ${key}`));
    },
    async createExclusive(key, data) {
      await o.ensure();
      const command = sh(CREATE_EXCLUSIVE, key, data, `create state ${key} if absent`);
      const res = await o.client.run(command, { check: false });
      if (res.exitCode === MISSING) return false;
      if (res.exitCode !== 0) throw commandFailed(command, res);
      return true;
    },
    async remove(key) {
      if (await absent()) return;
      await o.client.run(sh(REMOVE, key, '', `remove state ${key}`));
    },
  };
}
