import { execFileSync, spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TimerUnits } from '../systemd';

/** systemd-analyze verify on rendered units; false (nothing checked) where systemd-analyze is not installed. */
export async function verifyUnits(units: TimerUnits[]): Promise<boolean> {
  if (spawnSync('systemd-analyze', ['--version']).error) return false;
  const dir = await fs.mkdtemp(join(tmpdir(), 'veza-units-'));
  try {
    const files: string[] = [];
    for (const u of units) {
      for (const [ext, text] of [['service', u.service], ['timer', u.timer]] as const) {
        files.push(join(dir, `${u.name}.${ext}`));
        await fs.writeFile(files.at(-1)!, text);
      }
    }
    execFileSync('systemd-analyze', ['verify', '--man=no', ...files], { stdio: 'pipe' });
    return true;
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}
