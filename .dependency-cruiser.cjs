// The engine's domains, lowest first: a domain imports only domains before
// it in this list (README "Layering"), so no two domains can form a cycle.
// `npm run lint` checks it; a new domain must be placed here to pass.
const DOMAINS = ['log', 'util', 'config', 'ports', 'build', 'artifact', 'registry', 'release', 'hosts', 'state', 'edge', 'data', 'deploy', 'host'];

const ENGINE = '^libs/engine/src/';

const layering = DOMAINS.slice(0, -1).map((domain, i) => ({
  name: `engine-${domain}-imports-only-lower-domains`,
  comment: `${domain}/ may import only ${DOMAINS.slice(0, i).join(', ') || 'no other domain'}; move shared code down instead of importing up`,
  severity: 'error',
  from: { path: `${ENGINE}${domain}/` },
  to: { path: `${ENGINE}(${DOMAINS.slice(i + 1).join('|')})/` },
}));

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    ...layering,
    {
      name: 'engine-domain-listed',
      comment: 'every folder under libs/engine/src is a domain with a place in DOMAINS (.dependency-cruiser.cjs)',
      severity: 'error',
      from: { path: `${ENGINE}(?!(${DOMAINS.join('|')})/)[^/]+/` },
      to: {},
    },
    {
      name: 'engine-is-nx-free',
      comment: 'the engine runs under Nx and under the operator CLI alike; only tools/executors talk to Nx',
      severity: 'error',
      from: { path: ENGINE },
      to: { path: '(^|/)node_modules/(nx|@nx)/' },
    },
    {
      name: 'engine-one-http-client',
      comment: 'the engine makes HTTP requests only through util/http.ts, so timeouts, connection reuse and body limits are decided in one place; use httpGet or httpStream from there',
      severity: 'error',
      from: { path: ENGINE, pathNot: '^libs/engine/src/util/http\\.ts$|\\.test\\.ts$|/testing/' },
      to: { path: '^(node:)?(http|https|http2)$|(^|/)node_modules/undici/' },
    },
    {
      name: 'no-circular',
      comment: 'modules that import each other load half-initialised; split the shared part out',
      severity: 'error',
      from: { path: '^(libs|tools|test|bench|infra)/' },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(dist|fixtures)/' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
  },
};
