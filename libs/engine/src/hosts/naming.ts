import type { RuntimeDeclaration } from '../config/component';
import type { Environment } from '../config/environment';
import type { Color } from '../config/names';

/**
 * The one place that names slots and says where the edge finds them, so the
 * edge renderer, the drivers and deploy can never disagree.
 *
 * Slot name: `<prefix><short>-<colour>` (seed: veza-staging-backend-blue);
 * `short` drops the `veza-` every component name starts with.
 */
export type SlotRole = Color | 'tools';

export function shortName(component: string): string {
  return component.replace(/^veza-/, '');
}

export function slotName(env: Pick<Environment, 'prefix'>, component: string, role: SlotRole): string {
  return role === 'tools' ? `${env.prefix}${shortName(component)}-tools` : `${env.prefix}${shortName(component)}-${role}`;
}

/**
 * Local driver addresses: one loopback address per colour, every component on
 * its declared port (ports are unique across components), so adding a
 * component never moves a running slot. .1 is the edge, .2 the data tier
 * (PgBouncer in the HA topology), .21 and up the redis nodes (one address
 * each, as Sentinel tells them apart), .31 and up the MinIO nodes, .40 the
 * pg_auto_failover monitor and .41 onwards its data nodes (at most 9), .50
 * the media cache in front of MinIO.
 */
export const LOCAL_HOST_OCTET = { edge: 1, data: 2, blue: 10, green: 11, tools: 12, redis: 21, minio: 31, pgMonitor: 40, cache: 50 } as const;

export function localAddress(env: Pick<Environment, 'local' | 'name'>, role: keyof typeof LOCAL_HOST_OCTET): string {
  if (!env.local) throw new Error(`environment ${env.name} has no local.subnet`);
  return `${env.local.subnet}.${LOCAL_HOST_OCTET[role]}`;
}

/** host:port the edge uses to reach a component's slot of one colour. */
export function slotEndpoint(env: Environment, c: RuntimeDeclaration, color: Color): { host: string; port: number } {
  if (env.driver === 'local') return { host: localAddress(env, color), port: c.run.port };
  const suffix = env.incus?.dnsSuffix ?? 'incus';
  return { host: `${slotName(env, c.name, color)}.${suffix}`, port: c.run.port };
}
