import { z } from 'zod';

/**
 * Where Incus instances go: an environment's slots and data containers
 * (its `network:` and `incus:`), and an edge's container (the edge file's
 * own `incus:`, for an edge no environment names). One set of defaults, so
 * both say the same thing when they say nothing.
 */
export const INCUS_DEFAULTS = { project: 'default', network: 'net-veza', image: 'images:debian/13', dnsSuffix: 'incus' } as const;

/** An Incus network name: a Linux interface name, 15 characters at most. */
export const incusNetworkSchema = z.string().regex(/^[a-z][a-z0-9-]{0,14}$/);
