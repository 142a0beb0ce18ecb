// The intended layers of src/, bottom to top (README "Architecture"). An import may go down or stay within its
// layer, never up; no cycles anywhere. Type-only imports count too: what several layers share lives low.
//   8  index.ts, app.ts                 the Worker's entry points and the HTTP app
//   7  routes/, openapi/,               HTTP only (parse, call, shape the response); the API document reads the route
//      jobs/consumer.ts, jobs/watch.ts  schemas; the JOBS queue's entry points are to queue messages what routes are
//                                       to requests, so they sit beside them
//   6  pipeline/, app-env.ts,           the request pipeline (admit → provider → settle → deliver) and the Hono
//      http/{auth,middleware,cors,log}  middleware that fills its context: AppEnv names the parsed Config, the Ledger
//                                       and the caller's key, so it lives with the middleware that sets them
//   5  jobs/, media/, providers/        queue work (compensations, webhooks, retention), re-hosting and inputs, the
//                                       fal and worker adapters
//   4  ledger/, audit/                  the money store (both implementations) and the audit trail on it
//   3  config.ts                        configuration, parsed once per isolate (uses the catalog's model table)
//   2  catalog/                         canonical models, aliases, prices, route resolution (pure)
//   1  http/*, phi/                     web-standard helpers: errors, crypto, bodies, validation, URLs; the PHI screen
//   0  env.ts, jobs/messages.ts         bindings and the queue's message shapes: import nothing
const MIDDLEWARE = '^src/http/(auth|middleware|cors|log)\\.ts$';
const ENTRY = '^src/jobs/(consumer|watch)\\.ts$';
const LAYERS = [
  { in: ['^src/env\\.ts$', '^src/jobs/messages\\.ts$'] },
  { in: ['^src/http/', '^src/phi/'], not: [MIDDLEWARE] },
  { in: ['^src/catalog/'] },
  { in: ['^src/config\\.ts$'] },
  { in: ['^src/ledger/', '^src/audit/'] },
  { in: ['^src/jobs/', '^src/media/', '^src/providers/'], not: [ENTRY, '^src/jobs/messages\\.ts$'] },
  { in: ['^src/pipeline/', '^src/app-env\\.ts$', MIDDLEWARE] },
  { in: ['^src/routes/', '^src/openapi/', ENTRY] },
  { in: ['^src/(index|app)\\.ts$'] },
];

const upward = [];
LAYERS.forEach((layer, i) => {
  const above = LAYERS.slice(i + 1).flatMap((l) => l.in);
  if (!above.length) return;
  upward.push({
    name: `layer-${i}-imports-above`,
    severity: 'error',
    comment: `layer ${i} may not import a higher layer`,
    // `not`: files that a folder pattern of this layer would take but that belong to another layer.
    from: { path: layer.in.join('|'), ...(layer.not && { pathNot: layer.not.join('|') }) },
    to: { path: above.join('|') },
  });
});

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', comment: 'no import cycles', from: {}, to: { circular: true } },
    { name: 'not-to-test', severity: 'error', comment: 'src never imports test code', from: { path: '^src/' }, to: { path: '^test/' } },
    ...upward,
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '\\.json$' },
  },
};
