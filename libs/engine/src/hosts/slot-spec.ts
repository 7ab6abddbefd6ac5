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
