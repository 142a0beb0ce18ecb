// `npm run bench`: local latency benchmark of the gateway against the fal stand-in.
//
// Starts the fal and ComfyUI stand-ins and `wrangler dev` (all on 127.0.0.1, free ports), then measures
// N sequential requests (env BENCH_N, default 100; after a warm-up of BENCH_WARMUP, default 10) of:
//   - fal direct          : POST {runUrl}/fal-ai/flux/krea on the stand-in (no gateway)
//   - gateway + R2        : POST /v1/images/generations with the default wrangler.toml (MEDIA bound → re-host)
//   - gateway pass-through: the same on a second `wrangler dev` whose config has no [[r2_buckets]] block
//   - healthz             : GET /healthz on each instance (the floor of the local runtime)
// and prints p50 / p95 / mean, the gateway's added latency (gateway p50 − fal direct p50) and the bundle size
// (`wrangler deploy --dry-run --minify`). Everything is bounded (BENCH_TIMEOUT_S, default 170 s in total) and
// torn down on success, error, timeout or Ctrl-C. Local numbers: workerd + miniflare, not the Cloudflare edge.
import { freePort } from '../test/standins/redis.mjs';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync, mkdtempSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startFal } from '../test/standins/fal.mjs';
import { startComfy } from '../test/standins/comfy.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(ROOT, 'node_modules', '.bin');
const WRANGLER = existsSync(path.join(BIN, 'wrangler')) ? path.join(BIN, 'wrangler') : 'wrangler';

const intEnv = (name, def, min, max) => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name} must be an integer in ${min}..${max} (got '${raw}')`);
  return n;
};
const N = intEnv('BENCH_N', 100, 1, 2000);
const WARMUP = intEnv('BENCH_WARMUP', 10, 0, 200);
const TOTAL_TIMEOUT_MS = intEnv('BENCH_TIMEOUT_S', 170, 10, 1800) * 1000;
const READY_TIMEOUT_MS = 60_000;
const REQUEST_TIMEOUT_MS = 15_000;

const FAL_KEY = 'bench-fal-key';
const WORKER_TOKEN = 'bench-worker-token';
const ADMIN_TOKEN = 'bench-admin-token';
const VARS = {
  ADMIN_TOKEN,
  SIGNING_SECRET: 'bench-signing-secret-0123456789abcdef-0123456789',
  TEST_API_KEY: 'phi_test_bench_shared_key',
  // Empty vars count as unset in the gateway: keeps a local .dev.vars from pointing the bench at real services.
  UPSTASH_REDIS_REST_URL: '',
  UPSTASH_REDIS_REST_TOKEN: '',
  WORKER_AWS_ACCESS_KEY_ID: '',
  WORKER_AWS_SECRET_ACCESS_KEY: '',
};
const PASS_CONFIG = path.join(ROOT, '.bench.wrangler.toml');

const log = (...a) => console.log('[bench]', ...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------- cleanup

/** @type {(() => Promise<unknown> | unknown)[]} run in reverse order by cleanup() */
const cleanups = [];
let cleaning = null;
let stopping = false; // set once teardown starts: nothing new may be spawned, later errors are not reported again
function cleanup() {
  stopping = true;
  cleaning ??= (async () => {
    for (const fn of cleanups.splice(0).reverse()) {
      try { await fn(); } catch (e) { console.error('[bench] cleanup step failed:', e?.message ?? e); }
    }
  })();
  return cleaning;
}
async function fail(err, code = 1) {
  if (stopping) { await cleanup(); process.exit(code); }
  stopping = true;
  console.error(`[bench] FAILED: ${err?.stack ?? err}`);
  const hardStop = setTimeout(() => process.exit(code), 15_000); // cleanup itself is bounded; belt and braces
  hardStop.unref();
  await cleanup();
  process.exit(code);
}
for (const sig of ['SIGINT', 'SIGTERM']) process.once(sig, () => fail(new Error(`interrupted (${sig})`), 130));
const deadline = setTimeout(() => fail(new Error(`total time limit of ${TOTAL_TIMEOUT_MS / 1000}s exceeded`)), TOTAL_TIMEOUT_MS);
deadline.unref();

// ---------------------------------------------------------------------------------------------- processes

const childEnv = () => ({
  ...process.env,
  // wrangler needs Node >= 22: make the project's node (node_modules/.bin/node) win over the system one.
  PATH: `${BIN}${path.delimiter}${process.env.PATH ?? ''}`,
  WRANGLER_SEND_METRICS: 'false',
  NO_COLOR: '1',
  FORCE_COLOR: '0',
});

/** Spawns a command in its own process group, keeping the last lines of its output for error reports. */
function spawnGroup(cmd, args) {
  if (stopping) throw new Error('shutting down');
  const child = spawn(cmd, args, { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: childEnv() });
  const tail = [];
  let output = '';
  const keep = (chunk) => {
    const text = chunk.toString('utf8');
    output = (output + text).slice(-200_000);
    for (const line of text.split('\n')) if (line.trim()) tail.push(line);
    if (tail.length > 40) tail.splice(0, tail.length - 40);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  child.once('error', (e) => keep(Buffer.from(`spawn error: ${e.message}\n`)));
  return { child, exited, tail, output: () => output };
}

const groupAlive = (pid) => { try { process.kill(-pid, 0); return true; } catch { return false; } };

/** SIGTERM the whole process group (wrangler + workerd), wait up to 5 s, then SIGKILL whatever is left. */
async function stopGroup({ child, exited }) {
  const pid = child.pid;
  if (!pid) return;
  const timeout = (ms) => new Promise((r) => setTimeout(() => r('timeout'), ms));
  if (groupAlive(pid)) {
    try { process.kill(-pid, 'SIGTERM'); } catch { /* gone */ }
    await Promise.race([exited, timeout(5000)]);
    for (let i = 0; i < 20 && groupAlive(pid); i++) await sleep(100); // children may outlive the leader briefly
  }
  if (groupAlive(pid)) {
    try { process.kill(-pid, 'SIGKILL'); } catch { /* gone */ }
    await Promise.race([exited, timeout(2000)]);
  }
}

/** Starts `wrangler dev` and waits (bounded) until GET /healthz answers 200. */
async function startGateway(label, vars, config) {
  const port = await freePort();
  const inspectorPort = await freePort();
  const persist = mkdtempSync(path.join(os.tmpdir(), 'phi-bench-state-'));
  cleanups.push(() => rmSync(persist, { recursive: true, force: true }));
  const args = ['dev', '--ip', '127.0.0.1', '--port', String(port), '--inspector-port', String(inspectorPort),
    '--persist-to', persist, '--show-interactive-dev-session=false', '--log-level', 'warn'];
  if (config) args.push('--config', config);
  for (const [k, v] of Object.entries(vars)) args.push('--var', `${k}:${v}`);
  const proc = spawnGroup(WRANGLER, args);
  cleanups.push(() => stopGroup(proc));
  const base = `http://127.0.0.1:${port}`;
  const t0 = performance.now();
  let exitedEarly = null;
  proc.exited.then((e) => { exitedEarly = e; });
  for (;;) {
    if (exitedEarly) throw new Error(`wrangler dev (${label}) exited early (${JSON.stringify(exitedEarly)}):\n${proc.tail.join('\n')}`);
    if (performance.now() - t0 > READY_TIMEOUT_MS) throw new Error(`wrangler dev (${label}) not ready after ${READY_TIMEOUT_MS / 1000}s:\n${proc.tail.join('\n')}`);
    try {
      const res = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.ok) break;
    } catch { /* not listening yet */ }
    await sleep(250);
  }
  log(`gateway (${label}) ready on ${base} in ${((performance.now() - t0) / 1000).toFixed(1)}s`);
  return { base, proc, stop: () => stopGroup(proc) };
}

// ---------------------------------------------------------------------------------------------- measuring

/** Runs `fn` WARMUP times, then N times, sequentially; returns the N latencies in ms. */
async function series(name, fn) {
  for (let i = 0; i < WARMUP; i++) await fn(-1 - i);
  const ms = [];
  for (let i = 0; i < N; i++) {
    const t = performance.now();
    await fn(i);
    ms.push(performance.now() - t);
  }
  log(`${name}: ${N} requests done`);
  return ms;
}

/** fetch + full body read, with a timeout and a status check. */
async function call(url, init, expectStatus = 200) {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  const body = await res.text();
  if (res.status !== expectStatus) throw new Error(`${init?.method ?? 'GET'} ${url} → ${res.status} (expected ${expectStatus}): ${body.slice(0, 500)}`);
  return { res, body };
}

function stats(ms) {
  const s = [...ms].sort((a, b) => a - b);
  const pct = (p) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]; // nearest rank
  return { n: s.length, p50: pct(0.5), p95: pct(0.95), mean: s.reduce((a, b) => a + b, 0) / s.length, min: s[0], max: s[s.length - 1] };
}

async function issueKey(base) {
  const { body } = await call(`${base}/admin/keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ tier: 'paid', credits_micro: 100_000_000_000, rpm: 100_000 }),
  }, 201);
  return JSON.parse(body).key;
}

/** One image request per call; checks the cost header and that delivery is in the expected mode. */
function gatewayImage(base, key, falOrigin, mode) {
  return async (i) => {
    const { res, body } = await call(`${base}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: `bench ${mode} ${i}: a calm clinic waiting room, soft light` }),
    });
    if (!res.headers.has('x-phi-cost-micro')) throw new Error(`no x-phi-cost-micro header on ${mode} response`);
    const url = JSON.parse(body)?.data?.[0]?.url;
    const want = mode === 'r2' ? `${base}/` : `${falOrigin}/files/`;
    if (typeof url !== 'string' || !url.startsWith(want)) throw new Error(`${mode}: expected an image URL under ${want}, got ${JSON.stringify(url)}`);
  };
}

/** Bundle size from `wrangler deploy --dry-run --outdir <tmp> --minify` ("Total Upload: …"). */
async function bundleSize() {
  const out = mkdtempSync(path.join(os.tmpdir(), 'phi-bench-bundle-'));
  cleanups.push(() => rmSync(out, { recursive: true, force: true }));
  const proc = spawnGroup(WRANGLER, ['deploy', '--dry-run', '--outdir', out, '--minify']);
  cleanups.push(() => stopGroup(proc));
  const r = await Promise.race([proc.exited, sleep(60_000).then(() => null)]);
  await stopGroup(proc);
  if (!r) throw new Error('wrangler deploy --dry-run took longer than 60s');
  const m = /Total Upload:\s*([^\n]+)/.exec(proc.output());
  if (r.code !== 0 || !m) throw new Error(`wrangler deploy --dry-run failed (${JSON.stringify(r)}):\n${proc.tail.join('\n')}`);
  return m[1].trim();
}

/** wrangler.toml without the [[r2_buckets]] table(s), i.e. the pass-through delivery mode. */
function passThroughConfig() {
  const lines = readFileSync(path.join(ROOT, 'wrangler.toml'), 'utf8').split('\n');
  const kept = [];
  let skipping = false;
  for (const line of lines) {
    const header = /^\s*\[/.test(line);
    if (header) skipping = /^\s*\[\[\s*r2_buckets\s*\]\]/.test(line);
    if (!skipping) kept.push(line);
  }
  const text = kept.join('\n');
  if (/r2_buckets|binding\s*=\s*"MEDIA"/.test(text)) throw new Error('could not strip [[r2_buckets]] from wrangler.toml');
  return `# Generated by scripts/bench.mjs (pass-through mode); deleted when the bench ends.\n${text}`;
}

// ---------------------------------------------------------------------------------------------- main

async function main() {
  const started = performance.now();
  log(`N=${N} sequential requests per series after ${WARMUP} warm-up requests; wrangler: ${WRANGLER}`);
  if (existsSync(path.join(ROOT, '.dev.vars'))) log('note: .dev.vars exists; --var flags override it for the settings the bench sets');

  const fal = await startFal({ key: FAL_KEY, port: 0 });
  cleanups.push(() => fal.close());
  const comfy = await startComfy({ token: WORKER_TOKEN, port: 0 });
  cleanups.push(() => comfy.close());
  log(`fal stand-in on ${fal.origin}, ComfyUI stand-in on ${comfy.url}`);
  const vars = { ...VARS, FAL_KEY, FAL_RUN_URL: fal.runUrl, FAL_QUEUE_URL: fal.queueUrl, FAL_MEDIA_HOSTS: fal.origin, WORKER_URL: comfy.url, WORKER_TOKEN };

  const results = {};
  const falDirect = async () => {
    const { body } = await call(`${fal.runUrl}/fal-ai/flux/krea`, {
      method: 'POST',
      headers: { authorization: `Key ${FAL_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'bench direct: a calm clinic waiting room, soft light', image_size: 'square_hd', num_images: 1, output_format: 'png' }),
    });
    if (!JSON.parse(body)?.images?.[0]?.url) throw new Error('fal stand-in returned no image');
  };
  const healthz = (base) => async () => { await call(`${base}/healthz`); };

  // 1. Default config: MEDIA bound → outputs re-hosted in (local) R2.
  const r2 = await startGateway('R2 re-hosting', vars);
  results['fal direct (stand-in)'] = await series('fal direct', falDirect);
  results['healthz (R2 config)'] = await series('healthz (R2 config)', healthz(r2.base));
  results['gateway + R2 re-host'] = await series('gateway + R2', gatewayImage(r2.base, await issueKey(r2.base), fal.origin, 'r2'));
  await r2.stop();

  // 2. Same worker without the [[r2_buckets]] block → fal URLs pass through.
  writeFileSync(PASS_CONFIG, passThroughConfig());
  cleanups.push(() => rmSync(PASS_CONFIG, { force: true }));
  const pass = await startGateway('pass-through', vars, PASS_CONFIG);
  results['healthz (pass-through config)'] = await series('healthz (pass-through config)', healthz(pass.base));
  results['gateway pass-through'] = await series('gateway pass-through', gatewayImage(pass.base, await issueKey(pass.base), fal.origin, 'pass'));
  await pass.stop();
  rmSync(PASS_CONFIG, { force: true });

  // 3. Bundle size (after the measurements, so the build does not compete for CPU).
  const bundle = await bundleSize();

  // 4. Report.
  const rows = Object.entries(results).map(([name, ms]) => [name, stats(ms)]);
  const f = (x) => x.toFixed(2).padStart(8);
  const width = Math.max(...rows.map(([n]) => n.length), 6);
  console.log(`\nLatency, ${N} sequential requests per series (ms; local wrangler dev / workerd, 127.0.0.1):\n`);
  console.log(`${'series'.padEnd(width)}  ${'p50'.padStart(8)}  ${'p95'.padStart(8)}  ${'mean'.padStart(8)}  ${'min'.padStart(8)}  ${'max'.padStart(8)}`);
  console.log('-'.repeat(width + 50));
  for (const [name, s] of rows) console.log(`${name.padEnd(width)}  ${f(s.p50)}  ${f(s.p95)}  ${f(s.mean)}  ${f(s.min)}  ${f(s.max)}`);
  const p50 = (name) => stats(results[name]).p50;
  const falP50 = p50('fal direct (stand-in)');
  console.log('\nGateway added latency (gateway p50 − fal direct p50):');
  console.log(`  R2 re-hosting : ${(p50('gateway + R2 re-host') - falP50).toFixed(2)} ms`);
  console.log(`  pass-through  : ${(p50('gateway pass-through') - falP50).toFixed(2)} ms`);
  console.log(`  (runtime floor, healthz p50: ${p50('healthz (R2 config)').toFixed(2)} / ${p50('healthz (pass-through config)').toFixed(2)} ms)`);
  console.log(`\nBundle (wrangler deploy --dry-run --minify): Total Upload: ${bundle}`);
  console.log(`\nTotal bench time: ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

try {
  await main();
  await cleanup();
  clearTimeout(deadline);
  process.exit(0);
} catch (e) {
  await fail(e);
}
