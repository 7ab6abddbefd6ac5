import dns from 'node:dns';

/**
 * In production the deployer is a runner container on the Incus network
 * (seed 3b33791660), so `<slot>.incus` resolves through the bridge's own
 * DNS like in every other container. This tier runs the deployer on the
 * Incus host itself, whose resolver does not know those names; rather than
 * change the machine's resolver, this process alone sends names under the
 * suffix to the bridge's dnsmasq. Every other name resolves as before.
 */
export function resolveThroughBridge(suffix: string, server: string): () => void {
  const original = dns.lookup;
  const resolver = new dns.Resolver({ timeout: 2_000, tries: 2 });
  resolver.setServers([server]);
  const tail = `.${suffix}`;
  const patched = function lookup(hostname: string, options: unknown, callback?: unknown): void {
    const cb = (typeof options === 'function' ? options : callback) as (err: Error | null, address?: unknown, family?: number) => void;
    const opts = (typeof options === 'object' && options !== null ? options : typeof options === 'number' ? { family: options } : {}) as { all?: boolean };
    if (!hostname.endsWith(tail)) {
      (original as (...a: unknown[]) => void).call(dns, hostname, options, callback);
      return;
    }
    resolver.resolve4(hostname, (err, addresses) => {
      if (err) return cb(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND', hostname }));
      if (opts.all) return cb(null, addresses.map((address) => ({ address, family: 4 })));
      cb(null, addresses[0], 4);
    });
  };
  (dns as { lookup: unknown }).lookup = patched;
  return () => {
    (dns as { lookup: unknown }).lookup = original;
  };
}
