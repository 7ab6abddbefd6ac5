import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';

/**
 * Counts the TCP packets this host itself sends to `ports` on `subnet`
 * (an nftables table of the test's own, in the output hook, removed after
 * the test). A slot is probed only from inside its container and the
 * public URL goes through the edge's proxy device, whose connection starts
 * in the edge container: any packet counted here is the runner reaching a
 * slot directly, which production's runner cannot do.
 */
export async function watchHostTraffic(t: { after(fn: () => unknown): void }, subnet: string, ports: number[]): Promise<() => Promise<number>> {
  const table = `veza_watch_${randomBytes(4).toString('hex')}`;
  const rules = [
    `table inet ${table} {`,
    '  chain out {',
    '    type filter hook output priority 0; policy accept;',
    `    ip daddr ${subnet} tcp dport { ${[...new Set(ports)].join(', ')} } counter`,
    '  }',
    '}',
  ].join('\n');
  const nft = (args: string[], input?: string) => new Promise<string>((resolve, reject) => {
    const child = execFile('nft', args, (e, stdout) => (e ? reject(e) : resolve(stdout)));
    // nft reads stdin only for `-f -`; a write to a command that exited without reading it is an EPIPE.
    child.stdin?.on('error', () => undefined).end(input ?? '');
  });
  await nft(['-f', '-'], rules);
  t.after(() => nft(['delete', 'table', 'inet', table]));
  return async () => {
    const listed = JSON.parse(await nft(['-j', 'list', 'table', 'inet', table])) as { nftables: { rule?: { expr: { counter?: { packets: number } }[] } }[] };
    return listed.nftables.flatMap((o) => o.rule?.expr ?? []).reduce((n, e) => n + (e.counter?.packets ?? 0), 0);
  };
}
