// The OpenAPI 3.1 document served at /openapi.json: request bodies and query parameters are generated (zod 4's JSON
// Schema output) from the very schemas the routes validate with; responses, headers and error codes are described
// once (components.ts). Generated at build time (`npm run openapi` → src/openapi/openapi.json, which the worker
// serves) so the JSON Schema generator stays out of the worker bundle (~10 KiB gzip); a test rebuilds it from the
// schemas and fails when the committed file differs, and checks it against the app's registered routes both ways.
// The document is assembled here from paths-api.ts, paths-admin.ts and components.ts (building blocks in parts.ts).
import { adminPaths } from './paths-admin';
import { apiPaths } from './paths-api';
import { components } from './components';
import { CUSTOMER, type Json, ref } from './parts';

/**
 * Routes the app serves that are not API operations: the docs page's own script. They are left out of the document
 * (the test that compares registered and documented routes knows them).
 */
export const UNDOCUMENTED = ['GET /docs.js'];

export function buildDocument(): Json {
  return {
    openapi: '3.1.0',
    info: { title: 'phi-gateway', version: '1', description: 'Image and video generation for non-PHI content. Every error is the OpenAI envelope.' },
    servers: [{ url: '/' }],
    security: CUSTOMER,
    paths: { ...apiPaths(), ...adminPaths() },
    webhooks: {
      'video.completed': { post: { summary: 'Sent to the account endpoint (Standard Webhooks signature)', requestBody: { content: { 'application/json': { schema: ref('Event') } } }, responses: { '200': { description: 'Any 2xx acknowledges' } } } },
    },
    components: components(),
  };
}
