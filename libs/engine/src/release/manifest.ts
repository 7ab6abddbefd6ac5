import { createHash } from 'node:crypto';
import { z } from 'zod';
import { runtimeDeclarationSchema, type RuntimeDeclaration } from '../config/component';
import { PATTERNS, validate } from '../config/names';
import { VezaError } from '../log/errors';
import { validateCoords, validateSha256, type ArtifactCoords } from '../registry/coords';

/**
 * The release manifest: for one release sha, every component's artifact with
 * its registry coordinates, size and sha256. It is published beside the
 * artifacts as `{owner}/generic/veza-release/<sha>/release.json`, recorded in
 * the deploy history, and is all a full rollback needs (no rebuild).
 *
 * A component's version may be older than the release sha: an Nx cache hit
 * reuses the artifact built by the commit that first produced its inputs.
 *
 * Serialisation is canonical (sorted keys, fixed indentation), so the same
 * manifest always has the same bytes and sha256. Published files are
 * immutable: give `createdAt` a value that does not change between runs for
 * the same sha (the commit time) and leave `env` out of the published one, so
 * deploying the release again — or promoting it from staging to prod —
 * publishes identical bytes.
 */
export const RELEASE_PACKAGE = 'veza-release';
export const RELEASE_FILE = 'release.json';

const release = z.string().refine((s) => PATTERNS.sha.test(s) || PATTERNS.localVersion.test(s), 'must be a 40-hex git sha or local-<12 hex>');

const componentSchema = z.strictObject({
  owner: z.string().regex(PATTERNS.owner, 'must be a registry owner name'),
  package: z.string().regex(PATTERNS.component, 'must be a package name like veza-api'),
  version: release,
  file: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._+-]{0,199}$/, 'must be a plain file name'),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lower-case hex characters'),
  size: z.number().int().nonnegative(),
  /** How the component runs, is checked and routed at this release; absent from manifests published before it was recorded. */
  declaration: runtimeDeclarationSchema.optional(),
});

export const releaseManifestSchema = z.strictObject({
  schema: z.literal(1),
  sha: release,
  env: z.string().regex(PATTERNS.env).optional(),
  createdAt: z.iso.datetime({ offset: true }),
  components: z.record(z.string().regex(PATTERNS.component, 'component names are [a-z][a-z0-9-]*'), componentSchema)
    .refine((c) => Object.keys(c).length > 0, 'a release has at least one component'),
});

export type ReleaseManifest = z.infer<typeof releaseManifestSchema>;
/** A component's artifact: its registry coordinates plus what the bytes must hash to. */

/** Where a published manifest is, and what its bytes hash to (so it is verified like any artifact). */
export interface ReleaseManifestRef extends ArtifactCoords {
  sha256: string;
}

/** What the package step reports for a component (artifact/manifest.ts PackageManifest fits). */
export interface PackagedComponent {
  component: string;
  package: string;
  version: string;
  file: string;
  sha256: string;
  size: number;
  /** What component.json declared when the artifact was built. */
  declaration?: RuntimeDeclaration;
}

export interface BuildOptions {
  /** Registry owner the artifacts are published under. */
  owner: string;
  createdAt: Date;
  env?: string;
}

export function buildReleaseManifest(sha: string, components: PackagedComponent[], opts: BuildOptions): ReleaseManifest {
  validate.version(sha, true);
  const owner = validate.owner(opts.owner);
  if (opts.env !== undefined) validate.env(opts.env);
  if (components.length === 0) throw new VezaError(`release ${sha} has no components`, 'package at least one component (apps/*/component.json) before building a release', 'BAD_RELEASE');
  const out: ReleaseManifest['components'] = {};
  for (const c of components) {
    const name = validate.component(c.component);
    if (out[name]) throw new VezaError(`component ${name} appears twice in release ${sha}`, 'this is a bug in the caller: pass each component once', 'BAD_RELEASE');
    const coords = validateCoords({ owner, package: c.package, version: c.version, file: c.file }, true);
    validateSha256(c.sha256, name);
    if (!Number.isSafeInteger(c.size) || c.size < 0) throw new VezaError(`invalid size ${c.size} for ${name}`, 'package the component again', 'BAD_RELEASE');
    if (c.declaration && c.declaration.name !== name) throw new VezaError(`the declaration given for ${name} is ${c.declaration.name}'s`, 'this is a bug in the caller: pass each component its own declaration', 'BAD_RELEASE');
    out[name] = { ...coords, sha256: c.sha256, size: c.size, ...(c.declaration ? { declaration: c.declaration } : {}) };
  }
  return {
    schema: 1,
    sha,
    ...(opts.env === undefined ? {} : { env: opts.env }),
    createdAt: opts.createdAt.toISOString(),
    components: out,
  };
}

/** Canonical bytes: keys sorted at every level, two-space indent, final newline. */
export function serializeReleaseManifest(m: ReleaseManifest): string {
  return JSON.stringify(sortKeys(m), null, 2) + '\n';
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]));
  }
  return v;
}

/**
 * Parses and validates a manifest; `source` names it in errors (a path or
 * coordinates). With `expectSha`, a manifest for another release is refused.
 */
export function parseReleaseManifest(text: string, source: string, expectSha?: string): ReleaseManifest {
  const hint = `the release manifest is damaged or not one; publish the release again (nx run infra-deploy:deploy builds and publishes it)`;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new VezaError(`${source}: not valid JSON (${(e as Error).message})`, hint, 'BAD_RELEASE');
  }
  const parsed = releaseManifestSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new VezaError(`${source}: ${issues.join('; ')}`, hint, 'BAD_RELEASE');
  }
  if (expectSha !== undefined && parsed.data.sha !== expectSha) {
    throw new VezaError(`${source} describes release ${parsed.data.sha}, not ${expectSha}`, 'the registry holds the wrong manifest at these coordinates; publish the release again', 'BAD_RELEASE');
  }
  return parsed.data;
}

export function releaseManifestCoords(owner: string, sha: string): ArtifactCoords {
  return validateCoords({ owner, package: RELEASE_PACKAGE, version: sha, file: RELEASE_FILE }, true);
}

/** `{owner}/generic/veza-release/<sha>/release.json`, relative to the registry's package base. */
export function releaseManifestPath(owner: string, sha: string): string {
  const c = releaseManifestCoords(owner, sha);
  return `${c.owner}/generic/${c.package}/${c.version}/${c.file}`;
}

/** The reference recorded in the history: where the manifest is published and the sha256 of its canonical bytes. */
export function releaseManifestRef(owner: string, m: ReleaseManifest): ReleaseManifestRef {
  const sha256 = createHash('sha256').update(serializeReleaseManifest(m)).digest('hex');
  return { ...releaseManifestCoords(owner, m.sha), sha256 };
}
