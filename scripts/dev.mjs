// `npm run dev`: the gateway on embedded defaults — Durable Object ledger, local R2 and Queues (Miniflare), and local
// stand-ins for fal and the ComfyUI worker unless real ones are configured (FAL_KEY / WORKER_URL in the
// environment or .dev.vars). Prints a ready-to-paste curl session.
//
// Served by Miniflare's Node API straight from workerd, not by `wrangler dev`: wrangler dev (4.124) puts a proxy
// worker in front of the gateway, and that proxy exits the whole server when its connection to the worker resets
// (20 concurrent GET /admin/ with 20 KB bodies did it every time); 4.164 no longer exits but still resets or stalls
// some requests of such a burst. Here nothing stands between the socket and workerd. What wrangler dev gave is kept:
// the bindings, assets and queue consumers come from wrangler.toml through wrangler's own reader
// (unstable_getMiniflareWorkerOptions, as the test pool does), state persists in .wrangler/state (PERSIST_TO), and
// live reload: a change under src/ rebuilds the bundle (esbuild, watch mode) and reloads the worker in place; a
// change to wrangler.toml or public/ reloads it too. Should workerd itself die, it is started again (same state).
import { existsSync, mkdtempSync, readFileSync, rmSync, watch } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { convertV4MiniflareOptions, Log, LogLevel, Miniflare } from 'miniflare';
import { unstable_getMiniflareWorkerOptions } from 'wrangler';
import { startFal } from '../test/standins/fal.mjs';
import { startComfy } from '../test/standins/comfy.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CONFIG = path.join(ROOT, 'wrangler.toml');
const PORT = Number(process.env.PORT ?? 8787);
const fromFile = existsSync(path.join(ROOT, '.dev.vars'))
  ? Object.fromEntries(readFileSync(path.join(ROOT, '.dev.vars'), 'utf8').split('\n').map((l) => l.match(/^\s*([A-Z0-9_]+)\s*=\s*"?(.*?)"?\s*$/)).filter(Boolean).map((m) => [m[1], m[2]]))
  : {};
const configured = (name) => process.env[name] ?? fromFile[name];

// .dev.vars is read as wrangler dev reads it: every entry is a binding (the defaults below fill what it lacks).
const vars = {
  ...fromFile,
  ADMIN_TOKEN: configured('ADMIN_TOKEN') ?? 'dev-admin-token',
  SIGNING_SECRET: configured('SIGNING_SECRET') ?? 'dev-signing-secret-change-me-0123456789abcdef',
  TEST_API_KEY: configured('TEST_API_KEY') ?? 'phi_test_local_shared_key',
};
const stops = [];

if (!configured('FAL_KEY')) {
  const fal = await startFal({ key: 'local-fal-key', port: Number(process.env.FAL_STANDIN_PORT ?? 8790) });
  stops.push(() => fal.close());
  // The stand-in's CDN is plain http on loopback: allow exactly its origin (fal's real CDN stays the default).
  // Its webhooks are signed with its own key, published at its own JWKS URL.
  Object.assign(vars, { FAL_KEY: 'local-fal-key', FAL_RUN_URL: fal.runUrl, FAL_QUEUE_URL: fal.queueUrl, FAL_MEDIA_HOSTS: fal.origin, FAL_JWKS_URL: fal.jwksUrl });
  console.log(`[dev] fal stand-in on ${fal.origin} (set FAL_KEY to use the real fal.ai)`);
}
if (!configured('WORKER_URL')) {
  const comfy = await startComfy({ token: 'local-worker-token', port: Number(process.env.WORKER_STANDIN_PORT ?? 8791) });
  stops.push(() => comfy.close());
  Object.assign(vars, { WORKER_URL: comfy.url, WORKER_TOKEN: 'local-worker-token' });
  console.log(`[dev] ComfyUI stand-in on ${comfy.url} (set WORKER_URL to use a real worker)`);
}
// Configuration names set in the environment reach the worker too (as `wrangler dev --var` did for the ones above).
const PASSED = /^(FAL|WORKER|UPSTASH|MEDIA|PHI|DATA|VIDEO|STORE|UPSTREAM|PRICE|AUDIT|ALLOW)_[A-Z0-9_]+$/;
for (const [k, v] of Object.entries(process.env)) if (PASSED.test(k) && !k.endsWith('_STANDIN_PORT') && !(k in vars)) vars[k] = v;

// State where wrangler dev kept it (.wrangler/state/v3), so switching keeps keys, balances and media.
const persistRoot = path.join(process.env.PERSIST_TO ? path.resolve(process.env.PERSIST_TO) : path.join(ROOT, '.wrangler', 'state'), 'v3');
const outdir = mkdtempSync(path.join(os.tmpdir(), 'phi-dev-'));
const bundle = path.join(outdir, 'index.js');
process.on('exit', () => rmSync(outdir, { recursive: true, force: true }));

/** Miniflare's options, read afresh from wrangler.toml each time (so an edit to it applies on reload). */
function options() {
  // modulesRules are for unbundled sources (the bundle is one ES module).
  const { modulesRules: _rules, ...workerOptions } = unstable_getMiniflareWorkerOptions(CONFIG).workerOptions;
  return convertV4MiniflareOptions({
    ...workerOptions,
    name: 'phi-gateway',
    modules: true,
    scriptPath: bundle,
    modulesRoot: outdir,
    bindings: { ...workerOptions.bindings, ...vars },
    host: '127.0.0.1',
    port: PORT,
    ...(process.env.INSPECTOR_PORT && { inspectorPort: Number(process.env.INSPECTOR_PORT) }),
    resourcePersistencePath: persistRoot,
    log: new Log(LogLevel.INFO),
    // If workerd exits on its own, Miniflare starts it again; say so.
    unsafeHandleRuntimeRestart: () => console.log('[dev] workerd restarted'),
  });
}

let mf = null;
let reloading = Promise.resolve();
/** Starts the worker, or reloads it in place; requests keep being served by the old one until the new one is up. */
const reload = (why) =>
  (reloading = reloading.then(async () => {
    try {
      const opts = options();
      if (!mf) {
        mf = new Miniflare(opts);
        await mf.ready;
      } else {
        await mf.setOptions(opts);
        console.log(`[dev] reloaded (${why})`);
      }
    } catch (err) {
      console.error(`[dev] could not ${mf ? 'reload' : 'start'} the worker: ${err?.message ?? err}`);
      if (!mf) throw err;
    }
  }));

// The bundle as wrangler builds it for Workers: ESM, worker conditions, cloudflare:* left to the runtime.
let lastOutput = '';
const build = await esbuild.context({
  entryPoints: [unstable_getMiniflareWorkerOptions(CONFIG).main],
  absWorkingDir: ROOT,
  bundle: true,
  format: 'esm',
  platform: 'neutral',
  target: 'es2024',
  conditions: ['workerd', 'worker', 'browser'],
  mainFields: ['module', 'main'],
  external: ['cloudflare:*', 'node:*'],
  outfile: bundle,
  sourcemap: 'linked',
  keepNames: false,
  logLevel: 'silent',
  plugins: [
    {
      name: 'live-reload',
      setup(b) {
        b.onEnd(async (result) => {
          if (result.errors.length) {
            const text = await esbuild.formatMessages(result.errors, { kind: 'error', color: false });
            console.error(`[dev] build failed (the previous version keeps serving):\n${text.join('\n')}`);
            return;
          }
          const now = existsSync(bundle) ? readFileSync(bundle, 'utf8') : '';
          if (now === lastOutput) return;
          const first = lastOutput === '';
          lastOutput = now;
          if (!first) await reload('src changed');
        });
      },
    },
  ],
});
await build.rebuild();
await reload('start');
await build.watch();

// wrangler.toml and the static assets (public/): reload the worker with options read again.
let pending = null;
const soon = (why) => {
  clearTimeout(pending);
  pending = setTimeout(() => void reload(why), 200);
};
const watchers = [
  // The directory, not the file: an editor that saves by renaming would end a watch on the file itself.
  watch(ROOT, (_, name) => name === 'wrangler.toml' && soon('wrangler.toml changed')),
  ...(existsSync(path.join(ROOT, 'public')) ? [watch(path.join(ROOT, 'public'), { recursive: true }, () => soon('public/ changed'))] : []),
];

const base = `http://127.0.0.1:${PORT}`;
console.log(`
[dev] gateway ready on ${base} (workerd via Miniflare; live reload on src/, public/, wrangler.toml)
  admin token : ${vars.ADMIN_TOKEN}
  test key    : ${vars.TEST_API_KEY}  (free tier → worker)
  try:
    curl -s ${base}/healthz
    KEY=$(curl -s -X POST ${base}/admin/keys -H "Authorization: Bearer ${vars.ADMIN_TOKEN}" \\
      -H 'content-type: application/json' -d '{"tier":"paid","credits_micro":1000000}' | sed -E 's/.*"key":"([^"]+)".*/\\1/')
    curl -s ${base}/v1/images/generations -H "Authorization: Bearer $KEY" -H 'content-type: application/json' \\
      -d '{"model":"krea-2","prompt":"a calm clinic waiting room, soft light"}'
`);

let stopping = false;
const shutdown = async () => {
  if (stopping) return;
  stopping = true;
  clearTimeout(pending);
  for (const w of watchers) w.close();
  await build.dispose().catch(() => {});
  await mf?.dispose().catch(() => {});
  for (const stop of stops) await stop().catch(() => {});
  process.exit(0);
};
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
