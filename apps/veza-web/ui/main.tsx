import 'virtual:tokens.css';
import './app.css';
import { hydrateRoot } from 'react-dom/client';
import { App } from './App';

// Replaced by the literal sha at build time; a build without it is a developer build.
const release: string = import.meta.env.VITE_RELEASE_SHA || 'dev';

// The build pre-renders the same tree into index.html (build/prerender.ts), so the sha is in the page before any script runs.
hydrateRoot(document.getElementById('root')!, <App release={release} />);
