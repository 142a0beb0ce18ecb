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
import { chmodSync, closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, watch } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';
import { convertV4MiniflareOptions, Log, LogLevel, Miniflare } from 'miniflare';
import { unstable_getMiniflareWorkerOptions } from 'wrangler';
import { startFal } from '../test/standins/fal.mjs';
import { startComfy } from '../test/standins/comfy.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CONFIG = path.join(ROOT, 'wrangler.toml');
const PORT = Number(process.env.PORT ?? 8787);
const outdir = mkdtempSync(path.join(os.tmpdir(), 'phi-dev-'));
const bundle = path.join(outdir, 'index.js');
process.on('exit', () => rmSync(outdir, { recursive: true, force: true }));

/**
 * Every configuration name the gateway reads: the ones src/config.ts's parseConfig looks up (the source of truth the
 * README Configuration table documents), found by running it on an env that records what is asked of it. So a new
 * setting reaches `npm run dev` from the environment with no list here to keep up to date.
 */
async function configNames() {
  const out = path.join(outdir, 'config-names.mjs');
  await esbuild.build({ entryPoints: [path.join(ROOT, 'src', 'config.ts')], bundle: true, format: 'esm', platform: 'neutral', mainFields: ['module', 'main'], outfile: out, logLevel: 'silent' });
  const { parseConfig } = await import(pathToFileURL(out).href);
  rmSync(out); // not a module of the worker's
  const names = new Set();
  const recorder = new Proxy({}, { get: (_, name) => void (typeof name === 'string' && names.add(name)) });
  try {
    parseConfig(recorder);
  } catch {
    // Required settings are missing from the empty env: every name was looked up before that was found.
  }
  return [...names];
}
const NAMES = await configNames();
if (process.argv.includes('--list-vars')) {
  console.log(NAMES.join('\n'));
  process.exit(0);
}

/** .dev.vars in dotenv syntax, as wrangler dev reads it: `NAME=value`, `export NAME=value`, '…' / "…" quotes, # comments. */
function devVars(file) {
  if (!existsSync(file)) return {};
  const out = {};
  for (const line of readFileSync(file, 'utf8').split(/\r?\n/)) {
    const m = line.match(/^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|(.*?))\s*(?:\s#.*)?$/);
    if (!m) continue;
    out[m[1]] = m[2] !== undefined ? m[2].replace(/\\n/g, '\n').replace(/\\(["\\])/g, '$1') : (m[3] ?? m[4]);
  }
  return out;
}
const fromFile = devVars(path.join(ROOT, '.dev.vars'));
// Every configuration name set (non-empty) in the environment, as `wrangler dev --var` would pass it.
const fromEnv = Object.fromEntries(NAMES.filter((n) => process.env[n]).map((n) => [n, process.env[n]]));

// Precedence: the environment, then .dev.vars (every entry a binding, as in wrangler dev), then these local
// defaults, then wrangler.toml's [vars]. Bindings reach workerd inside its configuration, which Miniflare writes to
// workerd's stdin: no value is ever on a command line (`ps` shows none).
const DEFAULTS = {
  ADMIN_TOKEN: 'dev-admin-token',
  SIGNING_SECRET: 'dev-signing-secret-change-me-0123456789abcdef',
  TEST_API_KEY: 'phi_test_local_shared_key',
};
const vars = { ...DEFAULTS, ...fromFile, ...fromEnv };
const stops = [];

if (!vars.FAL_KEY) {
  const fal = await startFal({ key: 'local-fal-key', port: Number(process.env.FAL_STANDIN_PORT ?? 8790) });
  stops.push(() => fal.close());
  // The stand-in's CDN is plain http on loopback: allow exactly its origin (fal's real CDN stays the default).
  // Its webhooks are signed with its own key, published at its own JWKS URL.
  Object.assign(vars, { FAL_KEY: 'local-fal-key', FAL_RUN_URL: fal.runUrl, FAL_QUEUE_URL: fal.queueUrl, FAL_MEDIA_HOSTS: fal.origin, FAL_JWKS_URL: fal.jwksUrl });
  console.log(`[dev] fal stand-in on ${fal.origin} (set FAL_KEY to use the real fal.ai)`);
}
if (!vars.WORKER_URL) {
  const comfy = await startComfy({ token: 'local-worker-token', port: Number(process.env.WORKER_STANDIN_PORT ?? 8791) });
  stops.push(() => comfy.close());
  Object.assign(vars, { WORKER_URL: comfy.url, WORKER_TOKEN: 'local-worker-token' });
  console.log(`[dev] ComfyUI stand-in on ${comfy.url} (set WORKER_URL to use a real worker)`);
}

// Miniflare's debugging aid MINIFLARE_WORKERD_CONFIG_DEBUG=<file> dumps workerd's whole configuration, secrets
// included, into that file: create it private (0600) first, so the dump lands in a file only its owner can read.
const configDump = process.env.MINIFLARE_WORKERD_CONFIG_DEBUG;
if (configDump) {
  closeSync(openSync(configDump, 'a', 0o600));
  chmodSync(configDump, 0o600);
}

// State where wrangler dev kept it (.wrangler/state/v3), so switching keeps keys, balances and media.
const persistRoot = path.join(process.env.PERSIST_TO ? path.resolve(process.env.PERSIST_TO) : path.join(ROOT, '.wrangler', 'state'), 'v3');

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
// A first build that fails has nothing to fall back on: its errors are printed above (onEnd); stop there.
await build.rebuild().catch(async () => {
  for (const stop of stops) await stop().catch(() => {});
  process.exit(1);
});
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
// The local defaults are printed; a token or key of your own (environment or .dev.vars) never is.
const shown = (name) => (vars[name] === DEFAULTS[name] ? vars[name] : `(your ${name}: not printed)`);
const admin = vars.ADMIN_TOKEN === DEFAULTS.ADMIN_TOKEN ? vars.ADMIN_TOKEN : '<your ADMIN_TOKEN>';
console.log(`
[dev] gateway ready on ${base} (workerd via Miniflare; live reload on src/, public/, wrangler.toml)
  admin token : ${shown('ADMIN_TOKEN')}
  test key    : ${shown('TEST_API_KEY')}  (free tier → worker)
  state       : ${persistRoot}${process.env.INSPECTOR_PORT ? `\n  inspector   : 127.0.0.1:${process.env.INSPECTOR_PORT} (Chrome DevTools: chrome://inspect)` : ''}
  try:
    ADMIN='${admin}'
    curl -s ${base}/healthz
    KEY=$(curl -s -X POST ${base}/admin/keys -H "Authorization: Bearer $ADMIN" \\
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
