// `npm run openapi`: regenerates src/openapi/openapi.json from the route schemas (src/openapi/document.ts), bundled
// for Node with esbuild on the fly. The suite fails when the committed file and the schemas disagree.
import { build } from 'esbuild';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

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
  writeFileSync('src/openapi/openapi.json', `${JSON.stringify(buildDocument(), null, 1)}\n`);
  console.log('src/openapi/openapi.json');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
