// `npm run openapi`: regenerates src/openapi/openapi.json (and docs/API.md from it) from the route schemas (src/openapi/document.ts), bundled
// for Node with esbuild on the fly. The suite fails when the committed file and the schemas disagree.
import { build } from 'esbuild';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { apiMarkdown } from './lib/api-md.mjs';

const dir = mkdtempSync(join(tmpdir(), 'phi-openapi-'));
try {
  const out = join(dir, 'document.mjs');
  // The route modules reach the Durable Object class through their imports; Node only needs the name to exist.
  const workersStub = {
    name: 'cloudflare-workers-stub',
    setup(b) {
      b.onResolve({ filter: /^cloudflare:/ }, (args) => ({ path: args.path, namespace: 'stub' }));
      b.onLoad({ filter: /.*/, namespace: 'stub' }, () => ({ contents: 'export class DurableObject {}', loader: 'js' }));
    },
  };
  await build({ entryPoints: ['src/openapi/document.ts'], bundle: true, platform: 'node', format: 'esm', outfile: out, logLevel: 'error', plugins: [workersStub] });
  const { buildDocument } = await import(pathToFileURL(out).href);
  const doc = buildDocument();
  writeFileSync('src/openapi/openapi.json', `${JSON.stringify(doc, null, 1)}\n`);
  // The human-readable reference, from the same document (a Node test fails when it is stale).
  writeFileSync('docs/API.md', apiMarkdown(JSON.parse(JSON.stringify(doc))));
  console.log('src/openapi/openapi.json, docs/API.md');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
