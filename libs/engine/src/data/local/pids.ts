import { accessSync, constants, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** A file's text, or undefined when it cannot be read (absent: the service was never set up). */
export function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * The pid in `pidfile` when that process is alive and its command line holds
 * `marker` (a stale file after a kill -9, or a pid reused by something else, is not).
 */
export function livePid(pidfile: string, marker: string): number | undefined {
  const pid = Number(readText(pidfile)?.trim());
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  return readText(`/proc/${pid}/cmdline`)?.includes(marker) ? pid : undefined;
}

/** `bin` is an executable in one of PATH's folders. */
export function onPath(bin: string): boolean {
  return (process.env.PATH ?? '').split(':').filter(Boolean).some((d) => {
    try {
      accessSync(join(d, bin), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}
