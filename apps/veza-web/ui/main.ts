import 'virtual:tokens.css';
import './app.css';

// Replaced by the literal sha at build time; a build without it is a developer build.
const release: string = import.meta.env.VITE_RELEASE_SHA || 'dev';

interface ApiStatus {
  release?: string | null;
  color?: string | null;
  database?: string;
  schemaVersion?: string | null;
}

function show(id: string, text: string, tone?: 'ok' | 'error'): void {
  const el = document.getElementById(id);
  if (!el) return;
  el.textContent = text;
  el.className = [el.classList.contains('mono') ? 'mono' : '', tone ?? ''].join(' ').trim();
}

async function loadApiStatus(): Promise<void> {
  try {
    const res = await fetch('/api/v1/status', { headers: { accept: 'application/json' } });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const s = (await res.json()) as ApiStatus;
    show('api-status', `up (${s.color ?? 'no colour'})`, 'ok');
    show('api-release', s.release ?? 'unknown');
    show('api-schema', s.database === 'ok' ? (s.schemaVersion ?? 'no migrations') : `database ${s.database ?? 'unknown'}`, s.database === 'ok' ? undefined : 'error');
  } catch (e) {
    show('api-status', `unreachable (${(e as Error).message})`, 'error');
  }
}

show('web-release', release);
void loadApiStatus();
