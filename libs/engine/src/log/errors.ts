/**
 * Every code a VezaError carries: what scripts and the JSON output can match
 * on, and what retries decide by (never by message text). Adding a code here
 * is the only way to throw a new one.
 */
export type ErrorCode =
  | 'ALREADY_EXISTS'
  | 'ARTIFACT_CORRUPT'
  | 'ARTIFACT_FRAME_TOO_LARGE'
  | 'ARTIFACT_IMMUTABLE'
  | 'ARTIFACT_MISMATCH'
  | 'ARTIFACT_NOT_FOUND'
  | 'ARTIFACT_SHA_MISMATCH'
  | 'ARTIFACT_TRUNCATED'
  | 'ARTIFACT_UNREADABLE'
  | 'ARTIFACT_UNSAFE'
  | 'BAD_ARTIFACT'
  | 'BAD_HOOK'
  | 'BAKE_FAILED'
  | 'ACME_FAILED'
  | 'ACME_UNREACHABLE'
  | 'BAD_COMPONENT'
  | 'BAD_CONFIG'
  | 'BAD_PACKAGE_MANIFEST'
  | 'BAD_RELEASE'
  | 'BAD_SECRET'
  | 'BAD_STATE'
  | 'CLEANUP_REFUSED'
  | 'COMMAND_FAILED'
  | 'DATA_FAILED'
  | 'DATA_NO_BACKUP'
  | 'DRILL_FAILED'
  | 'FORMATION_UNHEALTHY'
  | 'DATA_NOT_PROVISIONED'
  | 'DATA_NOT_RUNNING'
  | 'DATA_UNBINDABLE'
  | 'NOT_IMPLEMENTED'
  | 'DEPLOY_FAILED'
  | 'DIRTY_RELEASE'
  | 'EDGE_CONFIG_INVALID'
  | 'EDGE_NOT_RENDERED'
  | 'EDGE_NOT_RUNNING'
  | 'EDGE_RELOAD_FAILED'
  | 'EDGE_RUNTIME'
  | 'EDGE_ANSWER_LOST'
  | 'EDGE_VERIFY_FAILED'
  | 'FILESYSTEM_ERROR'
  | 'HEALTH_FAILED'
  | 'HOOK_FAILED'
  | 'INCUS_OUTPUT'
  | 'INCUS_UNREACHABLE'
  | 'INSTANCE_NOT_READY'
  | 'INVALID_INPUT'
  | 'LOCKED'
  | 'LOCK_CONTENDED'
  | 'LOCK_INVALID'
  | 'MISSING_ARTIFACT'
  | 'MISSING_PACKAGE'
  | 'MISSING_SECRET'
  | 'MISSING_TOOL'
  | 'MISSING_TOOLCHAIN'
  | 'MISSING_VAR'
  | 'NOT_A_SLOT'
  | 'NOT_DEPLOYABLE'
  | 'NO_BUILD'
  | 'NO_IMAGE'
  | 'PROMOTE_REFUSED'
  | 'NO_NETWORK'
  | 'NO_PROC'
  | 'NO_SLOT'
  | 'NO_STORAGE_POOL'
  | 'NO_SUBNET'
  | 'NO_TEMPLATE'
  | 'NO_VERSION'
  | 'PACK_FAILED'
  | 'PACK_LINK_ESCAPES'
  | 'PACK_SOURCE_CHANGED'
  | 'PACK_SOURCE_UNREADABLE'
  | 'PACK_UNSUPPORTED_FILE'
  | 'PG_VERSION'
  | 'PORT_IN_USE'
  | 'REGISTRY_AUTH'
  | 'REGISTRY_FORBIDDEN'
  | 'REGISTRY_NO_OWNER'
  | 'REGISTRY_PROTOCOL'
  | 'REGISTRY_REFUSED'
  | 'REGISTRY_TOO_LARGE'
  | 'REGISTRY_UNAVAILABLE'
  | 'RELEASE_IMMUTABLE'
  | 'ROLLBACK_FAILED'
  | 'ROLLBACK_REFUSED'
  | 'RUNTIME_IMAGE_FAILED'
  | 'SLOT_FAILED'
  | 'SLOT_START_FAILED'
  | 'STOP_FAILED'
  | 'SWITCH_FAILED'
  | 'UNHEALTHY_TARGET'
  | 'UNKNOWN_COMPONENT'
  | 'UNKNOWN_EDGE'
  | 'UNKNOWN_ENV'
  | 'UNKNOWN_PACKAGE'
  | 'UNKNOWN_RELEASE'
  | 'UNPUBLISHED_RELEASE'
  | 'UNPACK_DEST_EXISTS'
  | 'UNPACK_FAILED'
  | 'VERIFY_FAILED'
  | 'VEZA_ERROR';

/**
 * The one error type the engine throws for anything a user can fix.
 * `hint` is the "what to do next" half of every user-facing message.
 */
export class VezaError extends Error {
  readonly hint: string;
  readonly code: ErrorCode;

  constructor(message: string, hint: string, code: ErrorCode = 'VEZA_ERROR') {
    super(message);
    this.name = 'VezaError';
    this.hint = hint;
    this.code = code;
  }

  /** One line: what went wrong, then what to do. */
  toLine(): string {
    return `${this.message} — ${this.hint}`;
  }
}

export function isVezaError(e: unknown): e is VezaError {
  return e instanceof VezaError;
}

/** Renders any thrown value as the single line a user sees. */
export function describeError(e: unknown): string {
  if (isVezaError(e)) return e.toLine();
  if (e instanceof Error) return e.message;
  return String(e);
}
