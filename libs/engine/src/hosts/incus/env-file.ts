import { checkEnvVars } from '../slot-spec';

/**
 * A slot's env file inside its container, read two ways: by systemd
 * (`EnvironmentFile=`) for the unit, and by `sh` (`set -a; . file`) for
 * exec. Both read a double-quoted value the same way when only `\ " $` and
 * the backquote are escaped — unlike the POSIX `'…'\''…'` form the local
 * driver writes, which systemd misreads.
 */
export function formatSlotEnvFile(vars: Record<string, string>): string {
  checkEnvVars(vars);
  const lines = Object.keys(vars)
    .sort()
    .map((k) => `${k}="${vars[k]!.replace(/[\\"$`]/g, (c) => `\\${c}`)}"`);
  return `# written by veza; mode 0600, holds secrets\n${lines.join('\n')}\n`;
}
