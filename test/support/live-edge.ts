import type { Workspace } from '@veza/engine/config/workspace';
import { openEdgeHost } from '@veza/engine/edge/open-host';
import { parseServersState } from '@veza/engine/edge/runtime-api';

export interface LiveEdge {
  config: string | undefined;
  /** `backend/server op=… admin=…`, sorted. */
  servers: string[];
}

/**
 * What a failed release must not change on a live edge, on either driver:
 * its config file's bytes and every server's operational and admin state,
 * read the way the pipeline reads them (the edge host's own file and
 * Runtime API access).
 */
export function liveEdgeReader(workspace: Workspace, edge: string): () => Promise<LiveEdge> {
  const host = openEdgeHost(workspace, workspace.edge(edge));
  return async () => ({
    config: await host.readConfig(),
    servers: parseServersState(await host.runtime(['show servers state'])).map((s) => `${s.backend}/${s.server} op=${s.opState} admin=${s.adminState}`).sort(),
  });
}
