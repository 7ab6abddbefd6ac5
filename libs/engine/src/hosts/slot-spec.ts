import { validate } from '../config/names';
import { VezaError } from '../log/errors';
import type { SlotSpec } from './port';

/**
 * The checks every driver makes on a SlotSpec before its first side effect.
 * What differs per driver (slot name rules, which bind addresses and command
 * strings it can carry) stays in the driver.
 */
export function checkCommonSlotSpec(spec: SlotSpec): void {
  validate.env(spec.env);
  validate.component(spec.component);
  if (spec.role !== 'tools') validate.color(spec.role);
  validate.version(spec.release, true);
  if (!/^[0-9a-f]{64}$/.test(spec.artifactSha256)) {
    throw new VezaError(`invalid artifact sha256 for slot ${spec.name}`, 'pass the 64-hex sha256 from the release manifest', 'INVALID_INPUT');
  }
  if (!Number.isInteger(spec.bind.port) || spec.bind.port < 1 || spec.bind.port > 65535) {
    throw new VezaError(`invalid port ${spec.bind.port} for slot ${spec.name}`, 'use a TCP port 1-65535 (run.port in component.json)', 'INVALID_INPUT');
  }
}

/** A slot's env file: the spec's vars plus HOST and PORT, which always match the bind address. */
export function slotVars(spec: SlotSpec): Record<string, string> {
  checkEnvVars(spec.vars);
  const bind = { HOST: spec.bind.host, PORT: String(spec.bind.port) };
  for (const [k, v] of Object.entries(bind)) {
    if (spec.vars[k] !== undefined && spec.vars[k] !== v) {
      throw new VezaError(`slot ${spec.name}: ${k}=${spec.vars[k]} contradicts its bind address ${spec.bind.host}:${spec.bind.port}`, `leave ${k} out of the slot's vars; the driver sets it`, 'INVALID_INPUT');
    }
  }
  return { ...spec.vars, ...bind };
}

export const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Names a shell and systemd accept, and values with no NUL: what every driver's env file can carry. */
export function checkEnvVars(vars: Record<string, string>): void {
  for (const [k, v] of Object.entries(vars)) {
    if (!ENV_KEY.test(k)) throw new VezaError(`invalid environment variable name ${JSON.stringify(k)}`, 'use letters, digits and _ , not starting with a digit', 'INVALID_INPUT');
    if (typeof v !== 'string' || v.includes('\0')) throw new VezaError(`environment variable ${k} holds a NUL byte or is not a string`, 'pass plain text values', 'INVALID_INPUT');
  }
}
