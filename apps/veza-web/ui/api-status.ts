/**
 * What the page says about the API, derived from its /api/v1/status body.
 * Pure, so the view of every state is tested without a network.
 */
export interface ApiStatus {
  release?: string | null;
  color?: string | null;
  database?: string;
  schemaVersion?: string | null;
}

export type ApiView =
  | { state: 'checking' }
  | { state: 'up'; color: string; release: string; schema: string; schemaOk: boolean }
  | { state: 'unreachable'; reason: string };

export function viewOf(status: ApiStatus): ApiView {
  const ok = status.database === 'ok';
  return {
    state: 'up',
    color: status.color ?? 'no colour',
    release: status.release ?? 'unknown',
    schema: ok ? (status.schemaVersion ?? 'no migrations') : `database ${status.database ?? 'unknown'}`,
    schemaOk: ok,
  };
}

/** Same-origin through the edge, which routes /api/v1 to the API's active colour. */
export async function fetchApiView(fetchImpl: typeof fetch = fetch): Promise<ApiView> {
  try {
    const res = await fetchImpl('/api/v1/status', { headers: { accept: 'application/json' } });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    return viewOf((await res.json()) as ApiStatus);
  } catch (e) {
    return { state: 'unreachable', reason: (e as Error).message };
  }
}
