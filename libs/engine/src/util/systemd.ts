/**
 * A periodic job as systemd runs it: a oneshot service that runs one
 * command from a checkout, and the timer that starts it. Persistent catches
 * a run missed while the machine was off.
 */
export interface TimerJob {
  /** The units' name, without .service/.timer. */
  name: string;
  /** What the service does, and what the timer is. */
  description: string;
  timerDescription: string;
  workingDirectory: string;
  execStart: string;
  /** A systemd calendar expression. */
  onCalendar: string;
  /** Spreads the start over this long (e.g. 4h), for jobs that should not all run on the hour. */
  randomizedDelay?: string;
  /** The job reaches the network: the service waits for it. */
  network?: boolean;
}

export interface TimerUnits {
  name: string;
  service: string;
  timer: string;
}

export function renderTimerUnits(j: TimerJob): TimerUnits {
  const service = [
    '[Unit]',
    `Description=${j.description}`,
    ...(j.network ? ['Wants=network-online.target', 'After=network-online.target'] : []),
    '',
    '[Service]',
    'Type=oneshot',
    `WorkingDirectory=${j.workingDirectory}`,
    `ExecStart=${j.execStart}`,
    'Nice=10',
    '',
  ].join('\n');
  const timer = [
    '[Unit]',
    `Description=${j.timerDescription}`,
    '',
    '[Timer]',
    `OnCalendar=${j.onCalendar}`,
    ...(j.randomizedDelay ? [`RandomizedDelaySec=${j.randomizedDelay}`] : []),
    'Persistent=true',
    `Unit=${j.name}.service`,
    '',
    '[Install]',
    'WantedBy=timers.target',
    '',
  ].join('\n');
  return { name: j.name, service, timer };
}

/** The commands that install rendered units from `dir` and start their timers. */
export function installTimersCommand(dir: string, names: string[]): string {
  return `systemctl link ${names.map((n) => `${dir}/${n}.service ${dir}/${n}.timer`).join(' ')} && systemctl enable --now ${names.map((n) => `${n}.timer`).join(' ')}`;
}
