import { build } from 'esbuild';

/**
 * The test releases' migrate tool: one row per schema version in a table of
 * its own, "no changes" when applied, as migrate_tool says it; `--status`
 * lists the recorded versions and the release's own one as migrate_tool
 * --status does (`applied  <v>.sql  <time>`, `pending  <v>.sql`). pg is bundled
 * into one file, as the real node preset bundles migrate_tool: a slot has no
 * node_modules. `target` follows the Node the slot runs (the Incus test image
 * ships Node 18).
 */
function migrateSource(table: string): string {
  return `
import { Client } from 'pg';
const version: string = require('./variant.json').schema;
async function main() {
  const c = new Client({ connectionString: process.env.DATABASE_URL });
  await c.connect();
  try {
    if (process.argv[2] === '--status') {
      const exists = (await c.query("SELECT to_regclass('${table}')::text AS t")).rows[0].t;
      const applied = exists ? (await c.query('SELECT version, applied_at FROM ${table} ORDER BY version')).rows : [];
      for (const a of applied) process.stdout.write('applied  ' + a.version + '.sql  ' + a.applied_at.toISOString() + '\\n');
      if (!applied.some((a: { version: string }) => a.version === version)) process.stdout.write('pending  ' + version + '.sql\\n');
      return;
    }
    await c.query('CREATE TABLE IF NOT EXISTS ${table} (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
    const r = await c.query('INSERT INTO ${table} (version) VALUES ($1) ON CONFLICT DO NOTHING', [version]);
    process.stdout.write(r.rowCount ? 'applied ' + version + '\\n' : 'no changes\\n');
  } finally {
    await c.end();
  }
}
main().catch((e) => { process.stderr.write('migrate: ' + e.message + '\\n'); process.exit(1); });
`;
}

const bundles = new Map<string, Promise<string>>();

export function bundledMigrate(table: string, target: 'node18' | 'node20'): Promise<string> {
  if (!/^[a-z_][a-z0-9_]*$/.test(table)) throw new Error(`bad table name ${table}`);
  const key = `${table}/${target}`;
  let b = bundles.get(key);
  if (!b) {
    b = build({
      stdin: { contents: migrateSource(table), loader: 'ts', resolveDir: __dirname },
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target,
      external: ['pg-native', './variant.json'],
      write: false,
      logLevel: 'silent',
    }).then((r) => r.outputFiles[0]!.text);
    bundles.set(key, b);
  }
  return b;
}
