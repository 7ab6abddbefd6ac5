import type { RuntimeDeclaration } from '../../config/component';
import { VezaError } from '../../log/errors';
import type { Command, ProcessRunner } from '../../ports/process';

/**
 * On `local`, a slot runs with the machine's own OS: every Debian package a
 * component declares in `run.needs` must be installed, or its slot would
 * fail at start with a message about a missing program. Checked before a
 * deploy changes anything.
 */
export function dpkgQuery(packages: readonly string[]): Command {
  return { argv: ['dpkg-query', '--show', '--showformat=${Package} ${db:Status-Abbrev}\\n', ...packages], description: 'check which declared packages are installed' };
}

/** The packages `dpkg-query` output does not show as installed (`ii`). */
export function notInstalled(packages: readonly string[], stdout: string): string[] {
  const installed = new Set(stdout.split('\n').map((l) => l.trim().split(/\s+/)).filter(([, st]) => st === 'ii').map(([name]) => name!.split(':')[0]!));
  return packages.filter((p) => !installed.has(p));
}

export async function checkLocalNeeds(components: RuntimeDeclaration[], runner: ProcessRunner): Promise<void> {
  const packages = [...new Set(components.flatMap((c) => c.run.needs))].sort();
  if (packages.length === 0) return;
  // Exit 1 just means "some package is unknown": the output still lists the known ones.
  const res = await runner.run(dpkgQuery(packages), { check: false }).catch((e: Error) => {
    throw new VezaError(`cannot check the packages the components need (${packages.join(', ')}): ${e.message}`, 'the local driver needs dpkg-query (Debian); install the packages by hand and retry', 'MISSING_TOOL');
  });
  const missing = notInstalled(packages, res.stdout);
  if (missing.length === 0) return;
  const who = components.filter((c) => c.run.needs.some((n) => missing.includes(n))).map((c) => `${c.name} needs ${c.run.needs.filter((n) => missing.includes(n)).join(', ')}`);
  throw new VezaError(`this machine lacks what the slots need: ${who.join('; ')} (apps/<component>/component.json run.needs)`,
    `install them: sudo apt-get install ${missing.join(' ')}`, 'MISSING_PACKAGE');
}
