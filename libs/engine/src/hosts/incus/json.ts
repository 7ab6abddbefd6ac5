import { VezaError } from '../../log/errors';

/**
 * The parts of `incus … --format json` the engine reads, checked as they are
 * parsed: a changed or truncated answer is reported, never half-used.
 */
export interface Instance {
  name: string;
  /** Running, Stopped, Frozen, Error… */
  status: string;
  config: Record<string, string>;
  devices: Record<string, Record<string, string>>;
  expandedDevices: Record<string, Record<string, string>>;
  /** Global IPv4 addresses of every interface but lo. */
  ipv4: string[];
}

export interface Snapshot {
  name: string;
  createdAt: Date;
}

export interface Profile {
  name: string;
  devices: Record<string, Record<string, string>>;
}

type Json = Record<string, unknown>;

function parseArray(text: string, what: string): Json[] {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new VezaError(`unexpected answer to "${what}": not JSON (${text.slice(0, 80)})`, 'check the incus client version (6.0 or later expected)', 'INCUS_OUTPUT');
  }
  // Incus answers `null` for an empty list.
  if (v === null) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'object' || x === null)) {
    throw new VezaError(`unexpected answer to "${what}": not a list of objects`, 'check the incus client version (6.0 or later expected)', 'INCUS_OUTPUT');
  }
  return v as Json[];
}

function str(o: Json, key: string, what: string): string {
  const v = o[key];
  if (typeof v !== 'string') throw new VezaError(`unexpected answer to "${what}": ${key} is missing`, 'check the incus client version (6.0 or later expected)', 'INCUS_OUTPUT');
  return v;
}

function strings(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) if (typeof x === 'string') out[k] = x;
  return out;
}

function devices(v: unknown): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) out[k] = strings(x);
  return out;
}

export function parseInstances(text: string): Instance[] {
  return parseArray(text, 'incus list').map((o) => {
    const network = ((o.state as Json | null)?.network ?? {}) as Record<string, { addresses?: { family?: string; address?: string; scope?: string }[] }>;
    const ipv4 = Object.entries(network)
      .filter(([iface]) => iface !== 'lo')
      .flatMap(([, n]) => (n.addresses ?? []).filter((a) => a.family === 'inet' && a.scope === 'global' && typeof a.address === 'string').map((a) => a.address!));
    return {
      name: str(o, 'name', 'incus list'),
      status: str(o, 'status', 'incus list'),
      config: strings(o.config),
      devices: devices(o.devices),
      expandedDevices: devices(o.expanded_devices),
      ipv4,
    };
  });
}

export function parseSnapshots(text: string): Snapshot[] {
  return parseArray(text, 'incus snapshot list')
    .map((o) => ({ name: str(o, 'name', 'incus snapshot list'), createdAt: new Date(str(o, 'created_at', 'incus snapshot list')) }))
    .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || a.name.localeCompare(b.name));
}

export function parseProfiles(text: string): Profile[] {
  return parseArray(text, 'incus profile list').map((o) => ({ name: str(o, 'name', 'incus profile list'), devices: devices(o.devices) }));
}

/** Names, in the order Incus lists them (storage pools, networks, projects). */
export function parseNames(text: string, what: string): string[] {
  return parseArray(text, what).map((o) => str(o, 'name', what));
}
