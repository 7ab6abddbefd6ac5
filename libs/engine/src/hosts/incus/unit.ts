import { posix } from 'node:path';
import { VezaError } from '../../log/errors';
import { shellScript } from '../../util/shell-script';

/**
 * What a slot container holds, and the systemd unit that runs its component:
 * its own system user, the artifact read-only under /srv/veza/app, the env
 * file 0600 read by systemd (never by the process's user), and the sandbox
 * the seed's templates used (ProtectSystem=strict, NoNewPrivileges, …).
 */
export const SLOT_PATHS = {
  app: '/srv/veza/app',
  envFile: '/etc/veza/slot.env',
} as const;

/** One component per container: the unit's name is fixed, so the logs command needs no lookup. */
export const SLOT_UNIT = 'veza-slot.service';

/** One ExecStart word: double-quoted, with what systemd would expand or unescape escaped. */
export function systemdWord(arg: string): string {
  if (/[\n\r\0]/.test(arg)) throw new VezaError(`command argument ${JSON.stringify(arg)} holds a line break or NUL`, 'run.command in component.json must be plain one-line words', 'INVALID_INPUT');
  return `"${arg.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\$/g, '$$$$').replace(/%/g, '%%')}"`;
}

/**
 * systemd takes an absolute path or a bare name it looks up itself, and
 * refuses a relative path (systemd 257, Debian 13: "Neither a valid
 * executable name nor an absolute path"), whatever WorkingDirectory says:
 * `./veza-api` is the artifact's own file, so it is spelled from there.
 */
export function executable(word: string): string {
  if (word.startsWith('/') || !word.includes('/')) return word;
  const path = posix.join(SLOT_PATHS.app, word);
  if (!path.startsWith(`${SLOT_PATHS.app}/`)) {
    throw new VezaError(`run.command ${JSON.stringify(word)} points outside the artifact`, 'name a file of the artifact (./bin/server), an absolute path, or a command on the PATH (node)', 'INVALID_INPUT');
  }
  return path;
}

export interface UnitSpec {
  component: string;
  role: string;
  release: string;
  command: string[];
}

export function renderUnit(u: UnitSpec): string {
  return [
    '# written by veza; re-created with the slot',
    '[Unit]',
    `Description=${u.component} (${u.role}, release ${u.release})`,
    'After=network-online.target',
    'Wants=network-online.target',
    '',
    '[Service]',
    `User=${u.component}`,
    `Group=${u.component}`,
    `WorkingDirectory=${SLOT_PATHS.app}`,
    `EnvironmentFile=${SLOT_PATHS.envFile}`,
    `ExecStart=${[executable(u.command[0]!), ...u.command.slice(1)].map(systemdWord).join(' ')}`,
    'Restart=on-failure',
    'RestartSec=1s',
    'TimeoutStopSec=10s',
    // Writable only here; everything else is read-only or private.
    `StateDirectory=${u.component}`,
    'NoNewPrivileges=yes',
    'ProtectSystem=strict',
    'ProtectHome=yes',
    'PrivateTmp=yes',
    'PrivateDevices=yes',
    'ProtectKernelTunables=yes',
    'ProtectKernelModules=yes',
    'ProtectControlGroups=yes',
    'RestrictSUIDSGID=yes',
    'RestrictRealtime=yes',
    'RestrictNamespaces=yes',
    'LockPersonality=yes',
    'CapabilityBoundingSet=',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}

/**
 * Run inside a fresh slot container: the component's own system user, then
 * the plain tar on stdin unpacked beside the app directory and renamed into
 * place, modes as packed, owned by root. The runner verified the artifact's
 * bytes and unpacked it with the engine's own policy before writing this
 * tar of what it unpacked; GNU tar's own guards (no absolute names, no
 * `..`, links delayed) apply again here.
 */
export const INSTALL_SCRIPT = shellScript('hosts/incus/scripts/install-artifact.sh');

/**
 * `HostDriver.exec` inside a slot: as root, read the env file (0600, root's)
 * and the exec's own variables (a 0600 file pushed for this call, or "-"),
 * then drop to the component's user and run the command: $1 env file, $2
 * extra file, $3 user, the rest the command.
 */
export const EXEC_SCRIPT = shellScript('hosts/incus/scripts/exec.sh');
