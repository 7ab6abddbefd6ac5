import { join } from 'node:path';
import { unifiedDiff } from '../edge/diff';
import { VezaError } from '../log/errors';
import type { Logger } from '../log/logger';
import { formatArgv, type Command } from '../ports/process';
import { ask, binaryExists, copyTree, makeStage, pathExists, removeTree, type Machine } from './machine';
import type { HostSettings } from './settings';

/**
 * The `common` baseline of seed 65c20835c1 for a Debian machine — this one,
 * or a container through `incus exec` (machine.ts): an sshd
 * drop-in, a fail2ban sshd jail and security-only unattended upgrades with
 * no automatic reboot. Each file is rendered, proven by the Debian tool that
 * will read it (on a staged copy, before anything is installed), then
 * written atomically; an unchanged file is left alone, so a second run does
 * nothing. Where sshd is absent (a container reached only by `incus exec`,
 * seed e97b91f010) the SSH drop-in and the jail that watches sshd are
 * skipped with a note.
 */

export const SSHD_DROP_IN = 'ssh/sshd_config.d/50-veza-hardening.conf';
export const FAIL2BAN_JAIL = 'fail2ban/jail.d/50-veza.local';
/** After Debian's 50unattended-upgrades, whose non-security origins it clears. */
export const UNATTENDED = 'apt/apt.conf.d/52veza-unattended-upgrades';

type Ssh = HostSettings['ssh'];
type Fail2ban = HostSettings['fail2ban'];

export function renderSshdDropIn(ssh: Ssh): string {
  // Checked here too: the host file refuses it, and so must any other caller.
  if (ssh.allowUsers.length === 0) {
    throw new VezaError('the SSH allow-list is empty: applying it would lock every operator out', 'list at least one user under ssh.allowUsers in infra/host/<env>.yaml', 'INVALID_INPUT');
  }
  return [
    '# Written by the Veza common baseline (infra-host:baseline); edit infra/host/<env>.yaml instead.',
    // Debian's sshd_config includes sshd_config.d/*.conf first, and the first value sshd reads wins.
    `Port ${ssh.port}`,
    'PermitRootLogin no',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PubkeyAuthentication yes',
    'MaxAuthTries 3',
    'LoginGraceTime 30',
    'X11Forwarding no',
    `AllowUsers ${ssh.allowUsers.join(' ')}`,
    '',
  ].join('\n');
}

export function renderFail2banJail(f: Fail2ban, sshPort: number): string {
  return [
    '# Written by the Veza common baseline (infra-host:baseline).',
    '[sshd]',
    'enabled = true',
    `port = ${sshPort}`,
    `backend = ${f.backend}`,
    ...(f.backend === 'auto' ? [`logpath = ${f.logpath}`] : []),
    `bantime = ${f.bantime}`,
    `findtime = ${f.findtime}`,
    `maxretry = ${f.maxretry}`,
    '',
  ].join('\n');
}

/** Security origins only; the operator owns reboot windows, so never an automatic reboot. */
export const SECURITY_ORIGIN = 'origin=Debian,codename=${distro_codename}-security,label=Debian-Security';

export function renderUnattendedUpgrades(): string {
  return [
    '// Written by the Veza common baseline (infra-host:baseline).',
    // apt lists add up across files: without #clear, Debian's own file would keep its non-security origins.
    '#clear Unattended-Upgrade::Origins-Pattern;',
    'Unattended-Upgrade::Origins-Pattern {',
    `        "${SECURITY_ORIGIN}";`,
    '};',
    'Unattended-Upgrade::Automatic-Reboot "false";',
    '',
  ].join('\n');
}

/** `apt-config dump` lines for the Unattended-Upgrade tree: what apt (and so unattended-upgrade) will read. */
export function checkUnattendedDump(dump: string): void {
  const origins = [...dump.matchAll(/^Unattended-Upgrade::Origins-Pattern:: "(.*)";$/gm)].map((m) => m[1]);
  const reboot = /^Unattended-Upgrade::Automatic-Reboot "(.*)";$/m.exec(dump)?.[1];
  if (origins.length !== 1 || origins[0] !== SECURITY_ORIGIN || reboot !== 'false') {
    throw new VezaError(`unattended-upgrades would not be security-only without reboot: origins ${JSON.stringify(origins)}, Automatic-Reboot ${JSON.stringify(reboot)}`,
      `another file under /etc/apt/apt.conf.d sorting after ${UNATTENDED.split('/').pop()} changes them; remove or rename it`, 'BAD_CONFIG');
  }
}

export interface BaselineOptions {
  settings: Pick<HostSettings, 'ssh' | 'fail2ban'>;
  /** Where it is applied: localMachine(runner), or incusMachine(client, container). */
  machine: Machine;
  log: Logger;
  /** The configuration root: /etc on a host, a copy of it in tests. */
  etc?: string;
  dryRun?: boolean;
}

export type BaselineAction = 'installed' | 'unchanged' | 'skipped' | 'planned';

export interface BaselineResult {
  /** On a planned file: whether it would replace one (false: it would be new), and the change as a unified diff. */
  files: { path: string; action: BaselineAction; existed?: boolean; diff?: string }[];
  notes: string[];
  /** sshd was absent: the drop-in and the jail were skipped. */
  sshdAbsent: boolean;
}

interface Part {
  path: string;
  content: string;
  /** Runs the Debian tool on a staging directory holding the new file in place. */
  prove(stage: string): Promise<void>;
  /** The service that reads it, reloaded after a change when systemd runs (a no-op when it is stopped). */
  reload?: Command;
}

/**
 * Renders every file, proves all of them, then installs the changed ones: a
 * file that fails its check stops the run before any file is written.
 */
export async function applyBaseline(o: BaselineOptions): Promise<BaselineResult> {
  const etc = o.etc ?? '/etc';
  const m = o.machine;
  const run = (c: Command) => runChecked(m, c);
  const result: BaselineResult = { files: [], notes: [], sshdAbsent: false };
  const parts: Part[] = [];
  const sshdConfig = join(etc, 'ssh/sshd_config');
  // A removed (not purged) openssh-server leaves its sshd_config behind: the binary must be there too.
  const sshdMissing = !(await ask(m, pathExists(sshdConfig))) ? `no ${sshdConfig}` : !(await ask(m, binaryExists('sshd'))) ? 'no sshd binary' : undefined;
  if (sshdMissing === undefined) {
    if (!(await ask(m, binaryExists('fail2ban-client')))) {
      throw new VezaError(`${m.label} runs sshd but has no fail2ban-client: its sshd jail cannot be checked or enforced`,
        `install Debian's fail2ban there (apt-get install fail2ban), then run again; nothing was changed`, 'BAD_STATE');
    }
    parts.push({
      path: SSHD_DROP_IN,
      content: renderSshdDropIn(o.settings.ssh),
      async prove(stage) {
        // sshd -t refuses to run without its privilege separation directory, which systemd creates at start.
        await run({ argv: ['install', '-d', '-m', '0755', '/run/sshd'], description: 'create sshd privilege separation directory' });
        const top = join(stage, 'sshd_config');
        // The new drop-in first (first value wins), then the installed config with its own includes and host keys.
        await m.writeFile(top, `Include ${join(stage, SSHD_DROP_IN)}\nInclude ${sshdConfig}\n`, 0o600);
        await run({ argv: ['sshd', '-t', '-f', top], description: 'check the sshd drop-in with sshd -t' });
      },
      reload: { argv: ['systemctl', 'try-reload-or-restart', 'ssh'], description: 'reload sshd' },
    });
    parts.push({
      path: FAIL2BAN_JAIL,
      content: renderFail2banJail(o.settings.fail2ban, o.settings.ssh.port),
      async prove(stage) {
        await run({ argv: ['fail2ban-client', '-c', join(stage, 'fail2ban'), '-t'], description: 'check the fail2ban jail with fail2ban-client -t' });
      },
      reload: { argv: ['systemctl', 'try-restart', 'fail2ban'], description: 'restart fail2ban' },
    });
  } else {
    result.sshdAbsent = true;
    result.notes.push(`sshd is absent (${sshdMissing}): the SSH drop-in and the fail2ban sshd jail are skipped — ${m.label} is reached by incus exec, not SSH`);
    result.files.push({ path: SSHD_DROP_IN, action: 'skipped' }, { path: FAIL2BAN_JAIL, action: 'skipped' });
  }
  parts.push({
    path: UNATTENDED,
    content: renderUnattendedUpgrades(),
    async prove(stage) {
      // The whole apt configuration with the new file in it, parsed by apt itself. APT_CONFIG is read
      // before the parts directory, so it can point apt at the staged one; -o would come too late.
      const aptConfig = join(stage, 'apt-config');
      await m.writeFile(aptConfig, `Dir::Etc::Parts "${join(stage, 'apt/apt.conf.d')}";\n`, 0o644);
      const dump = await run({ argv: ['apt-config', 'dump', 'Unattended-Upgrade'], env: { APT_CONFIG: aptConfig }, description: 'parse the unattended-upgrades settings with apt-config' });
      checkUnattendedDump(dump);
    },
  });

  const changed: { part: Part; current: string | undefined }[] = [];
  for (const p of parts) {
    const current = await m.readFile(join(etc, p.path));
    if (current === p.content) result.files.push({ path: p.path, action: 'unchanged' });
    else changed.push({ part: p, current });
  }
  if (changed.length === 0) return result;

  const stage = (await run(makeStage())).trim();
  try {
    for (const dir of ['ssh', 'fail2ban', 'apt']) {
      if (await ask(m, pathExists(join(etc, dir)))) await run(copyTree(join(etc, dir), join(stage, dir)));
    }
    for (const p of parts) await m.writeFile(join(stage, p.path), p.content, 0o644);
    for (const { part } of changed) {
      await part.prove(stage);
      o.log.info(`checked ${part.path} on ${m.label}`);
    }
  } finally {
    await m.run(removeTree(stage));
  }
  const systemd = await ask(m, pathExists('/run/systemd/system'));
  for (const { part: p, current } of changed) {
    const live = join(etc, p.path);
    if (o.dryRun) {
      const diff = unifiedDiff(current ?? '', p.content, { before: `${m.label}:${live}${current === undefined ? ' (absent)' : ''}`, after: `${live} (the baseline)` });
      result.files.push({ path: p.path, action: 'planned', existed: current !== undefined, diff });
      continue;
    }
    await m.writeFile(live, p.content, 0o644);
    result.files.push({ path: p.path, action: 'installed' });
    o.log.info(`installed ${live} on ${m.label}`);
    if (p.reload && systemd && etc === '/etc') await run(p.reload);
    else if (p.reload) result.notes.push(`${p.path}: not reloaded (${systemd ? 'not the live /etc' : 'systemd is not running there'}); run ${formatArgv(p.reload.argv)} where it applies`);
  }
  return result;
}

async function runChecked(m: Machine, c: Command): Promise<string> {
  const res = await m.run(c);
  if (res.exitCode !== 0) {
    const detail = (res.stderr || res.stdout).trim().split('\n').filter((l) => !/WARNING/.test(l)).slice(-4).join(' | ');
    throw new VezaError(`${c.description ?? formatArgv(c.argv)} on ${m.label} failed (exit ${res.exitCode}): ${detail}`, 'nothing was installed; fix the setting in infra/host/<env>.yaml and run again', 'BAD_CONFIG');
  }
  return res.stdout;
}
