import { execFile } from 'node:child_process';
import { promises as fs, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

/**
 * The real veza-api's binaries (veza-api, migrate_tool) and migrations,
 * built once per test process from apps/veza-api with `go build` (its
 * module cache and build cache make a rebuild cheap), for the test
 * workspaces that deploy the real API rather than a stand-in.
 */
export interface GoApi {
  binaries: { 'veza-api': Buffer; migrate_tool: Buffer };
  /** The component's own migrations: file name → SQL. */
  migrations: Record<string, string>;
  /** The binaries' folder, to run migrate_tool directly. */
  dir: string;
}

const APP = resolve(__dirname, '../../apps/veza-api');
let built: Promise<GoApi> | undefined;

export function goApi(): Promise<GoApi> {
  built ??= (async () => {
    const dir = await fs.mkdtemp(join(tmpdir(), 'veza-go-api-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    await promisify(execFile)('go', ['build', '-trimpath', '-o', dir, './cmd/veza-api', './cmd/migrate_tool'], { cwd: APP, timeout: 10 * 60_000 });
    const sql = (await fs.readdir(join(APP, 'migrations'))).filter((f) => f.endsWith('.sql')).sort();
    return {
      binaries: { 'veza-api': await fs.readFile(join(dir, 'veza-api')), migrate_tool: await fs.readFile(join(dir, 'migrate_tool')) },
      migrations: Object.fromEntries(await Promise.all(sql.map(async (f) => [f, await fs.readFile(join(APP, 'migrations', f), 'utf8')] as const))),
      dir,
    };
  })();
  return built;
}
