import type { ArtifactCoords } from './coords';

/**
 * The registry port: where packaged artifacts are published and fetched.
 * Every implementation keeps Forgejo's generic layout
 * `{owner}/generic/{package}/{version}/{file}` and its rules: a file, once
 * published, never changes; publishing the same bytes again is a no-op.
 */
export interface Registry {
  readonly kind: 'file' | 'forgejo';
  /** `local-<12hex>` versions are for uncommitted builds and stay on the machine that made them. */
  readonly allowsLocalVersions: boolean;
  /** Streams `localPath` (never held in memory); 'exists' when identical bytes are already published. */
  upload(coords: ArtifactCoords, localPath: string, sha256: string): Promise<'created' | 'exists'>;
  /** Writes `destPath` only once the bytes match `expectedSha256`; on any failure nothing is left behind. */
  download(coords: ArtifactCoords, destPath: string, expectedSha256: string): Promise<void>;
  /** The sha256 the registry holds for this file, or undefined when it has none. */
  remoteSha256(coords: ArtifactCoords): Promise<string | undefined>;
  /** For logs: where the registry is. Never includes a secret. */
  describe(): string;
}
