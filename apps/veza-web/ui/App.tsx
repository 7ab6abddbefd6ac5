import { useEffect, useState } from 'react';
import { fetchApiView, type ApiView } from './api-status';

export interface AppProps {
  /** The release this page was built as (VITE_RELEASE_SHA), or "dev". */
  release: string;
  /** Server-side and in tests: the API state to show instead of fetching it. */
  api?: ApiView;
  load?: () => Promise<ApiView>;
}

function Fact({ label, children, mono, tone }: { label: string; children: string; mono?: boolean; tone?: 'ok' | 'error' }) {
  const className = [mono ? 'mono' : '', tone ?? ''].join(' ').trim() || undefined;
  return (
    <>
      <dt>{label}</dt>
      <dd className={className}>{children}</dd>
    </>
  );
}

export function ApiFacts({ view }: { view: ApiView }) {
  switch (view.state) {
    case 'checking':
      return <Fact label="API">checking…</Fact>;
    case 'unreachable':
      return (
        <Fact label="API" tone="error">
          {`unreachable (${view.reason})`}
        </Fact>
      );
    case 'up':
      return (
        <>
          <Fact label="API" tone="ok">{`up (${view.color})`}</Fact>
          <Fact label="API release" mono>
            {view.release}
          </Fact>
          <Fact label="Schema" mono tone={view.schemaOk ? undefined : 'error'}>
            {view.schema}
          </Fact>
        </>
      );
  }
}

export function App({ release, api, load = fetchApiView }: AppProps) {
  const [view, setView] = useState<ApiView>(api ?? { state: 'checking' });
  useEffect(() => {
    if (api) return;
    let live = true;
    void load().then((v) => live && setView(v));
    return () => {
      live = false;
    };
  }, [api, load]);
  return (
    <main className="page">
      <h1>Veza</h1>
      <dl className="facts">
        <Fact label="Web release" mono>
          {release}
        </Fact>
        <ApiFacts view={view} />
      </dl>
    </main>
  );
}
