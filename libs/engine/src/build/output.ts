import { promises as fs } from 'node:fs';
import { join, relative } from 'node:path';
import { z } from 'zod';
import { PATTERNS } from '../config/names';
import { VezaError } from '../log/errors';

/**
 * The build's contract with `package`: dist/build/<component>/root holds
 * exactly the artifact's content, and build.json, written last, says what
 * it is. No build.json means no finished build.
 */
export const BUILD_RECORD_FILE = 'build.json';

export const buildRecordSchema = z.strictObject({
  component: z.string().regex(PATTERNS.component),
  package: z.string().regex(PATTERNS.component),
  version: z.string().refine((v) => PATTERNS.sha.test(v) || PATTERNS.localVersion.test(v), 'must be a 40-hex sha or local-<12 hex>'),
  preset: z.enum(['node', 'vite', 'go', 'cargo']),
});

export type BuildRecord = z.infer<typeof buildRecordSchema>;

export interface BuildPaths {
  outDir: string;
  rootDir: string;
  recordFile: string;
}

export function buildPaths(workspaceRoot: string, component: string): BuildPaths {
  const outDir = join(workspaceRoot, 'dist', 'build', component);
  return { outDir, rootDir: join(outDir, 'root'), recordFile: join(outDir, BUILD_RECORD_FILE) };
}

/** Reads a finished build, refusing a missing, partial or foreign one. */
export async function readBuildOutput(workspaceRoot: string, component: string): Promise<{ record: BuildRecord; rootDir: string }> {
  const paths = buildPaths(workspaceRoot, component);
  const shown = relative(workspaceRoot, paths.recordFile);
  let raw: unknown;
  try {
    raw = JSON.parse(await fs.readFile(paths.recordFile, 'utf8'));
  } catch (e) {
    const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
    throw new VezaError(`${shown} ${missing ? 'does not exist' : `is unreadable: ${(e as Error).message}`}`,
      `build the component first: npx nx run ${component}:build`, 'NO_BUILD');
  }
  const parsed = buildRecordSchema.safeParse(raw);
  if (!parsed.success || parsed.data.component !== component) {
    throw new VezaError(`${shown} is not a build record for ${component}`, `rebuild it: npx nx run ${component}:build --skip-nx-cache`, 'NO_BUILD');
  }
  const st = await fs.stat(paths.rootDir).catch(() => undefined);
  if (!st?.isDirectory()) {
    throw new VezaError(`${relative(workspaceRoot, paths.rootDir)} is missing although ${shown} exists`, `rebuild it: npx nx run ${component}:build --skip-nx-cache`, 'NO_BUILD');
  }
  return { record: parsed.data, rootDir: paths.rootDir };
}
