/**
 * DATABASE_URL carries the database password, so nothing derived from it is
 * printed except `host:port/db`, and library messages are scrubbed of the
 * password in case a driver ever echoes it.
 */
export interface DatabaseTarget {
  url: string;
  /** `host:port/db`, safe to print. */
  label: string;
  scrub(text: string): string;
}

export function parseDatabaseUrl(url: string | undefined): DatabaseTarget | { error: string } {
  if (!url) return { error: 'DATABASE_URL is not set — export the Postgres URL (postgres://user:password@host:port/db) in the environment; it is never taken from arguments' };
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { error: 'DATABASE_URL is not a valid URL — use postgres://user:password@host:port/db' };
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    return { error: `DATABASE_URL has scheme ${parsed.protocol} — use postgres://user:password@host:port/db` };
  }
  const secrets = [parsed.password, decodeURIComponent(parsed.password)].filter((s) => s.length > 0);
  return {
    url,
    label: `${parsed.hostname}:${parsed.port || '5432'}${parsed.pathname}`,
    scrub: (text) => secrets.reduce((t, s) => t.split(s).join('***'), text),
  };
}
