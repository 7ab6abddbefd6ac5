import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The Incus host's inotify instance limit. Every unprivileged container
 * maps its root to the same host uid, whose inotify instances
 * (fs.inotify.max_user_instances) all their systemds share: at the
 * kernel's 128 about a dozen containers use them up, and the next one's
 * systemd-networkd fails with "Too many open files" and never gets an
 * address. incus-base ships /etc/sysctl.d/10-incus-inotify.conf with 1024,
 * but only a boot (or `sysctl --system`) applies it.
 *
 * A warning, not a refusal: what the bootstrap itself makes (two containers
 * at most) works at 128, the fix is one command the operator runs as root
 * when they choose, and the deploy that would hit the limit is a later
 * command. The note says what to run.
 *
 * Since Linux 5.11 the limit is per user namespace: inside a container
 * (the deploy runner drives the host's daemon from one) the file shows the
 * container's own namespace's value, not the host's, so there it is not
 * checked and the run says where to look instead.
 */
export const INOTIFY_SYSCTL = 'fs.inotify.max_user_instances';
export const INOTIFY_WANTED = 1024;
/** What incus-base ships; `sysctl --system` applies it without a reboot. */
export const INCUS_SYSCTL_FILE = 'sysctl.d/10-incus-inotify.conf';

export interface InotifyFacts {
  /** /proc/self/uid_map of this process. */
  uidMap: string;
  /** /proc/sys/fs/inotify/max_user_instances. */
  maxUserInstances: string;
  /** Whether <etc>/sysctl.d/10-incus-inotify.conf exists. */
  incusSysctlFile: boolean;
}

export type InotifyVerdict = { kind: 'ok' } | { kind: 'low'; note: string } | { kind: 'unreadable'; info: string };

/** The initial user namespace maps every uid to itself: `0 0 4294967295`, one line. */
export function inInitialUserNamespace(uidMap: string): boolean {
  const lines = uidMap.trim().split('\n');
  return lines.length === 1 && lines[0]!.trim().split(/\s+/).join(' ') === '0 0 4294967295';
}

export function judgeInotify(f: InotifyFacts, etc: string): InotifyVerdict {
  if (!inInitialUserNamespace(f.uidMap)) {
    return { kind: 'unreadable', info: `this runs inside a container (its own user namespace): ${INOTIFY_SYSCTL} here is the container's, not the Incus host's; check it on the host with: sysctl ${INOTIFY_SYSCTL} (want at least ${INOTIFY_WANTED})` };
  }
  const value = Number(f.maxUserInstances.trim());
  if (Number.isInteger(value) && value >= INOTIFY_WANTED) return { kind: 'ok' };
  const file = join(etc, INCUS_SYSCTL_FILE);
  const fix = f.incusSysctlFile
    ? `run as root: sysctl --system (it applies ${file}, which incus-base ships with ${INOTIFY_WANTED} but only a boot applies)`
    : `run as root: echo '${INOTIFY_SYSCTL} = ${INOTIFY_WANTED}' > ${file} && sysctl --system`;
  return {
    kind: 'low',
    note: `${INOTIFY_SYSCTL} is ${f.maxUserInstances.trim() || 'unreadable'} on this Incus host, below ${INOTIFY_WANTED}: about a dozen containers use up their shared inotify instances and the next one starts without networking (systemd-networkd: "Too many open files"); ${fix}`,
  };
}

/** Reads the facts from this machine (`proc` and `etc` are roots, for tests). */
export async function readInotifyFacts(proc: string, etc: string): Promise<InotifyFacts> {
  const read = (p: string) => readFile(p, 'utf8').catch(() => '');
  return {
    uidMap: await read(join(proc, 'self/uid_map')),
    maxUserInstances: await read(join(proc, 'sys/fs/inotify/max_user_instances')),
    incusSysctlFile: (await read(join(etc, INCUS_SYSCTL_FILE))) !== '',
  };
}
