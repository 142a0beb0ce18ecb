// `npm run bench`: what a request costs on the gateway, measured on the BUILT bundle (`wrangler deploy --dry-run
// --minify`) running on workerd through Miniflare's API. Not `wrangler dev`: its proxy costs more than the gateway.
// Upstream is the local fal stand-in, so absolute numbers are this machine's workerd, not the Cloudflare edge; what
// carries over is the difference between series.
//
// Each series runs sequentially (1 connection) and with 8 concurrent connections, after a warm-up at the same
// concurrency, and reports p50 / p99 latency, req/s and CPU per request of its workerd process (the /proc utime +
// stime delta over the measured requests / their count). All workers run from the start and the series take turns
// in rounds, so that the machine's drift over a run (often tens of percent on a shared VM) hits them alike:
//   upstream direct     POST to the fal stand-in's sync runner, no worker at all: client + stand-in baseline
//   floor               a bare module worker on its own workerd forwarding that POST: the runtime's own cost
//   re-host floor       the same, then the image's bytes streamed into local R2: what a re-host costs at least
//   paid image, no R2   POST /v1/images/generations with a paid key; the fal URL is passed through
//   paid image, R2      the same with MEDIA bound: the output is re-hosted into (local) R2
//   video poll          GET /v1/videos/{id} of a finished, already settled paid video (no R2)
// Derived: the gateway's own cost (gateway − floor) and what R2 re-hosting adds (R2 − no R2).
//
// Own cost (issue 23): the paid image again, now against an instant loopback fal (test/standins/fal-instant.mjs),
// next to a bare Hono pass-through (scripts/lib/hono-floor.ts) built the same way (wrangler --minify, same
// compatibility settings) on its own workerd: own cost = gateway − Hono floor, p50, at 1 and 8 connections, the
// gateway's CPU per request, and the SQL statements per admit read from the ledger object (LedgerStore.admitCost);
// the gateway runs twice, its ledger's SQLite on disk (Miniflare's default) and on tmpfs, so that the commit's disk
// flush, which the answer waits for, shows apart from the gateway's own work. Where the CPU goes: npm run profile.
//
// History: the ledger promises that a call's cost does not grow with an account's history (expiry is indexed,
// sweeps are bounded). Sequential paid images (no R2) for a fresh account are compared with an account whose
// Durable Object already holds BENCH_HISTORY_ROWS rows in each table that grows with use (claims, holds, idem, and
// any other table with an expires_at column whose rows the bench knows how to shape, e.g. jobs), half live and half
// expired, seeded by SQL inside the object (Miniflare's unsafeGetDurableObjectStorage, which needs the gateway
// started with `inspect`). The two accounts take turns in rounds on one workerd, like the series above.
//
// Env: BENCH_N (sequential requests per series, default 500), BENCH_CONCURRENT_N (requests per 8-connection series,
// 1000), BENCH_WARMUP (warm-up requests per series, 30), BENCH_HISTORY_ROWS (200000), BENCH_TIMEOUT_S (260: the
// whole run; everything is torn down on success, error, timeout or Ctrl-C).
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Pool } from 'undici';
import { startFal } from '../test/standins/fal.mjs';
import { startInstantFal } from '../test/standins/fal-instant.mjs';
import { benchPhiMedia } from './lib/bench-phi-media.mjs';
import { benchPhiText } from './lib/bench-phi-text.mjs';
import { ADMIN_TOKEN, BASE_VARS, buildBundle, cpuMs, freshFetch, instructions, ledgerSql, startWorker } from './lib/workerd.mjs';

const intEnv = (name, def, min, max) => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name} must be an integer in ${min}..${max} (got '${raw}')`);
  return n;
};
const N = intEnv('BENCH_N', 500, 20, 100_000);
const N_CONCURRENT = intEnv('BENCH_CONCURRENT_N', 1000, 20, 100_000);
const WARMUP = intEnv('BENCH_WARMUP', 30, 8, 10_000);
const HISTORY_ROWS = intEnv('BENCH_HISTORY_ROWS', 200_000, 2, 10_000_000);
const TIMEOUT_MS = intEnv('BENCH_TIMEOUT_S', 260, 10, 3600) * 1000;
const CONNECTIONS = 8;
const REQUEST_TIMEOUT_MS = 15_000;
/** Every comparison is measured in this many rounds, its series taking turns within each round. */
const ROUNDS = 10;

const FAL_KEY = 'bench-fal-key';
const FAL_MODEL = 'fal-ai/flux/krea';
const PROMPT = 'a calm clinic waiting room, soft light';
// The ledger's lifetimes (src/ledger/limits.ts CLAIM_TTL_SEC, src/pipeline/videos.ts VIDEO_HOLD_TTL_SEC,
// src/pipeline/admit.ts IDEMPOTENCY_TTL_SEC): seeded live rows expire within them, like real ones.
const CLAIM_TTL_MS = 30 * 24 * 3600_000;
const HOLD_TTL_MS = 6 * 3600_000;
const IDEM_TTL_MS = 24 * 3600_000;

const log = (...a) => console.error('[bench]', ...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------------------------------------------ teardown

/** Undo steps, run newest first by teardown(). */
const undo = [];
let tearingDown = null;
function teardown() {
  tearingDown ??= (async () => {
    for (const step of undo.splice(0).reverse()) {
      let timer;
      const bound = new Promise((r) => (timer = setTimeout(r, 10_000)));
      await Promise.race([Promise.resolve().then(step), bound]).catch((e) => log('teardown step failed:', e?.message ?? e));
      clearTimeout(timer);
    }
  })();
  return tearingDown;
}
async function fail(err, code = 1) {
  if (!tearingDown) log(`FAILED: ${err?.stack ?? err}`); // later errors are the teardown's echo
  await teardown();
  process.exit(code);
}
// Miniflare also hooks SIGINT/SIGTERM: it SIGKILLs its workerd and exits, which may cut this teardown short.
for (const sig of ['SIGINT', 'SIGTERM']) process.once(sig, () => fail(new Error(`interrupted (${sig})`), 130));
const deadline = setTimeout(() => fail(new Error(`time limit of ${TIMEOUT_MS / 1000} s exceeded (BENCH_TIMEOUT_S)`)), TIMEOUT_MS);

/** Starts a worker whose stop (idempotent) is also a teardown step. */
async function start(options) {
  const worker = await startWorker(options);
  let stopped = null;
  const stop = () => (stopped ??= worker.stop());
  undo.push(stop);
  return { ...worker, stop };
}

// ------------------------------------------------------------------------------------------------ load

/**
 * `count` requests from `connections` concurrent loops sharing one keep-alive pool. Each answer must be a 200 that
 * passes `target.check(bodyText)`. Returns the latencies (ms) and the wall time.
 */
async function drive(pool, target, connections, count, first = 0) {
  const ms = new Array(count);
  let next = 0;
  const t0 = performance.now();
  const loop = async () => {
    while (next < count) {
      const i = next++;
      const t = performance.now();
      const res = await pool.request({ ...target.request(first + i), signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
      const text = await res.body.text();
      ms[i] = performance.now() - t;
      if (res.statusCode !== 200) throw new Error(`${target.name}: HTTP ${res.statusCode}: ${text.slice(0, 300)}`);
      target.check(text);
    }
  };
  await Promise.all(Array.from({ length: connections }, loop));
  return { ms, wallMs: performance.now() - t0 };
}

// workerd drops a connection idle for 5 s: the pool lets go of idle ones well before, so a request never races that.
const newPool = (origin, connections) =>
  new Pool(origin, { connections, pipelining: 1, keepAliveTimeout: 2_000, headersTimeout: REQUEST_TIMEOUT_MS, bodyTimeout: REQUEST_TIMEOUT_MS });

/** Nearest-rank percentile. */
const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];

function summary(ms, wallMs, cpu, ins) {
  const s = [...ms].sort((a, b) => a - b);
  const per = (v) => (v === null ? null : v / s.length);
  return { n: s.length, p50: pct(s, 0.5), p99: pct(s, 0.99), rps: (s.length / wallMs) * 1000, cpu: per(cpu), ins: per(ins) };
}

/**
 * Measures `targets` at one concurrency, interleaved: after a warm-up of each, ROUNDS rounds in which every target
 * gets its share of `count` requests in turn, so that the machine's drift over the run (it is large) hits all of
 * them alike. The workerd CPU of a target is counted over its own measured blocks only. Returns one row per target.
 */
async function interleaved(targets, connections, count) {
  const pools = targets.map((t) => newPool(t.origin, connections));
  const acc = targets.map(() => ({ ms: [], wallMs: 0, cpu: 0, ins: 0 }));
  const block = Math.ceil(count / ROUNDS);
  try {
    for (const [i, t] of targets.entries()) await drive(pools[i], t, connections, WARMUP, -WARMUP);
    for (let done = 0; done < count; done += block) {
      for (const [i, t] of targets.entries()) {
        // One unmeasured request per connection first: the switch from another process is not what is measured.
        await drive(pools[i], t, connections, connections, -connections);
        const cpu0 = t.pid ? cpuMs(t.pid) : 0;
        const run = () => drive(pools[i], t, connections, Math.min(block, count - done), done);
        const { result, count: ins } = t.pid ? await instructions(t.pid, run) : { result: await run(), count: null };
        const { ms, wallMs } = result;
        acc[i].cpu += t.pid ? cpuMs(t.pid) - cpu0 : 0;
        acc[i].ins = acc[i].ins === null || ins === null ? null : acc[i].ins + ins;
        acc[i].ms.push(...ms);
        acc[i].wallMs += wallMs;
      }
    }
  } finally {
    await Promise.all(pools.map((p) => p.destroy()));
  }
  const rows = targets.map((t, i) => ({ name: t.name, connections, ...summary(acc[i].ms, acc[i].wallMs, t.pid ? acc[i].cpu : null, t.pid ? acc[i].ins : null) }));
  for (const r of rows) log(`${r.name} ×${connections}: p50 ${r.p50.toFixed(2)} ms, ${r.rps.toFixed(0)} req/s`);
  return rows;
}

// ------------------------------------------------------------------------------------------------ targets

const json = (text) => JSON.parse(text);
const postJson = (path, headers, body) => ({ method: 'POST', path, headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(body) });
const falInput = (i) => ({ prompt: `bench ${i}: ${PROMPT}`, image_size: 'square_hd', num_images: 1, output_format: 'png' });

function falImageCheck(text) {
  if (typeof json(text).images?.[0]?.url !== 'string') throw new Error(`fal answered without an image: ${text.slice(0, 200)}`);
}

/** The fal stand-in's sync runner, called directly or through the pass-through floor (same path, same body). */
function upstreamTarget(name, origin, runPath, pid = null) {
  return {
    name,
    origin,
    pid,
    request: (i) => postJson(`${runPath}/${FAL_MODEL}`, { authorization: `Key ${FAL_KEY}` }, falInput(i)),
    check: falImageCheck,
  };
}

/** The runtime's own cost: receive the POST, send it on to the stand-in, return the answer. */
const FLOOR = `export default {
  fetch(req, env) {
    const url = new URL(req.url);
    return fetch(env.UPSTREAM + url.pathname, { method: req.method, headers: req.headers, body: req.body });
  },
};`;

/**
 * Local R2's own cost: the same call to the stand-in, then the image's bytes streamed into R2 (fetch → put with
 * its length) — the least a re-host can do. What the gateway adds over it is its own share of re-hosting.
 */
const REHOST_FLOOR = `export default {
  async fetch(req, env) {
    const url = new URL(req.url);
    const res = await fetch(env.UPSTREAM + url.pathname, { method: req.method, headers: req.headers, body: req.body });
    const out = await res.json();
    const file = await fetch(out.images[0].url);
    const fixed = new FixedLengthStream(Number(file.headers.get('content-length')));
    file.body.pipeTo(fixed.writable);
    await env.MEDIA.put(crypto.randomUUID(), fixed.readable);
    return Response.json(out);
  },
};`;

function imageTarget(name, gw, key, urlPrefix) {
  return {
    name,
    origin: gw.url,
    pid: gw.pid,
    request: (i) => postJson('/v1/images/generations', { authorization: `Bearer ${key}` }, { prompt: `bench ${i}: ${PROMPT}` }),
    check: (text) => {
      const url = json(text).data?.[0]?.url;
      if (typeof url !== 'string' || !url.startsWith(urlPrefix)) throw new Error(`${name}: expected an image URL under ${urlPrefix}: ${text.slice(0, 200)}`);
    },
  };
}

async function admin(gw, path, body, want) {
  const res = await freshFetch(`${gw.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const text = await res.text();
  if (res.status !== want) throw new Error(`POST ${path} → ${res.status}: ${text.slice(0, 300)}`);
  return json(text);
}

/** A paid key whose credits and rate limit never stop the run. */
const paidKey = async (gw, account) => (await admin(gw, '/admin/keys', { tier: 'paid', account, credits_micro: 1e12, rpm: 100_000 }, 201)).key;

async function gatewayCall(gw, key, path, init = {}) {
  const res = await freshFetch(`${gw.url}${path}`, { ...init, headers: { ...init.headers, authorization: `Bearer ${key}` }, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${init.method ?? 'GET'} ${path} → ${res.status}: ${text.slice(0, 300)}`);
  return json(text);
}

/** Enqueues one paid video, lets the stand-in finish it (~1.5 s) and polls once to settle its bill; returns its id. */
async function finishedVideo(gw, key) {
  const init = { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: `bench video: ${PROMPT}`, seconds: 2 }) };
  const { id } = await gatewayCall(gw, key, '/v1/videos', init);
  await sleep(1_700);
  const polled = await gatewayCall(gw, key, `/v1/videos/${id}`);
  if (polled.status !== 'completed' || !(polled.cost_micro > 0)) throw new Error(`video ${id} not completed and charged after 1.7 s: ${JSON.stringify(polled)}`);
  return id;
}

function pollTarget(name, gw, key, id) {
  return {
    name,
    origin: gw.url,
    pid: gw.pid,
    request: () => ({ method: 'GET', path: `/v1/videos/${id}`, headers: { authorization: `Bearer ${key}` } }),
    check: (text) => {
      if (json(text).status !== 'completed') throw new Error(`${name}: not completed: ${text.slice(0, 200)}`);
    },
  };
}

// ------------------------------------------------------------------------------------------------ own cost

/** Issue 23's goals for a paid image on this runtime: its cost over a bare Hono pass-through, and its CPU. */
const GOAL_OWN_P50_MS = 0.6;
const GOAL_CPU_MS = 0.9;

/** The bare Hono pass-through (scripts/lib/hono-floor.ts): same body, same upstream call, same answer shape. */
function honoTarget(worker) {
  return {
    name: 'floor: bare Hono pass-through',
    origin: worker.url,
    pid: worker.pid,
    request: (i) => postJson('/v1/images/generations', {}, { prompt: `bench ${i}: ${PROMPT}` }),
    check: (text) => {
      if (typeof json(text).data?.[0]?.url !== 'string') throw new Error(`Hono floor answered without an image: ${text.slice(0, 200)}`);
    },
  };
}

/** Admits an account's ledger object answered and the SQL statements they ran (LedgerStore.admitCost over RPC). */
async function admitCost(gw, account) {
  const ns = await gw.mf.getDurableObjectNamespace('LEDGER');
  const c = await ns.get(ns.idFromName(`account:${account}`)).admitCost();
  return { calls: Number(c.calls), statements: Number(c.statements) };
}

/**
 * The paid image's own cost (issue 23): the gateway's bundle and a bare Hono pass-through, each built with
 * wrangler --minify, on workerd, against an instant loopback fal (test/standins/fal-instant.mjs: the documented
 * result at once, so that what is measured is the workers, not the stand-in's PNG encoder), interleaved at 1 and at
 * 8 connections. Also the SQL statements per admit, read from the account's ledger object.
 */
async function ownCostSeries(bundle) {
  const fal = await startInstantFal({ key: FAL_KEY });
  undo.push(() => fal.close());
  const hono = buildBundle('scripts/lib/hono-floor.ts');
  undo.push(() => hono.dispose());
  const vars = { ...BASE_VARS, FAL_KEY, FAL_RUN_URL: fal.runUrl, FAL_QUEUE_URL: `${fal.origin}/queue`, FAL_MEDIA_HOSTS: fal.origin };
  const floor = await start({ script: hono.script, vars: { FAL_RUN_URL: fal.runUrl, FAL_KEY }, ledger: false, r2: false });
  const gw = await start({ script: bundle.script, vars, r2: false });
  // The same gateway with its ledger's SQLite on tmpfs: a commit's fsync costs nothing there, so the difference
  // between the two is this machine's disk flush (the answer waits for the commit: the output gate).
  const shm = existsSync('/dev/shm') ? mkdtempSync(path.join('/dev/shm', 'phi-bench-')) : null;
  if (shm) undo.push(() => rmSync(shm, { recursive: true, force: true }));
  const gwShm = shm ? await start({ script: bundle.script, vars, r2: false, stateDir: shm }) : null;
  const account = 'bench-own-cost';
  const key = await paidKey(gw, account);
  const targets = [honoTarget(floor), imageTarget('gateway, paid image (instant fal)', gw, key, `${fal.origin}/files/`)];
  if (gwShm) targets.push(imageTarget('  the same, ledger on tmpfs (no fsync)', gwShm, await paidKey(gwShm, account), `${fal.origin}/files/`));
  const before = await admitCost(gw, account);
  const sequential = await interleaved(targets, 1, N);
  const concurrent = await interleaved(targets, CONNECTIONS, N_CONCURRENT);
  const after = await admitCost(gw, account);
  await Promise.all([floor.stop(), gw.stop(), gwShm?.stop()]);
  await fal.close();
  return { sequential, concurrent, admits: after.calls - before.calls, statements: after.statements - before.statements, floorSize: hono.size };
}

// ------------------------------------------------------------------------------------------------ history

/** `n` = 1..rows; even rows are live (expire 10 min .. ttl from now), odd rows expired (1 min .. ttl ago). */
const expiresAt = (now, ttl) =>
  `CASE n % 2 WHEN 0 THEN ${now + 600_000} + n * ${ttl - 600_000} / ${HISTORY_ROWS} ELSE ${now - 60_000} - n * ${ttl} / ${HISTORY_ROWS} END`;

/**
 * Per table that grows with an account's history, rows shaped like the ones the gateway writes (see SCHEMA in
 * src/ledger/durable/schema.ts), numbered by `n` from the recursive CTE `s`; distinct ids. Each entry: [sql, ...bindings].
 */
const HISTORY_SEEDS = {
  // image claims
  claims: ({ now }) => [`INSERT INTO claims (id, amount, expires_at, void) SELECT printf('img_%012d', n), 33000, ${expiresAt(now, CLAIM_TTL_MS)}, 0 FROM s`],
  // video holds: settled (released), but for one in a thousand still rendering (n a multiple of 1000: even, so live)
  holds: ({ now }) => [`INSERT INTO holds (id, amount, expires_at, released) SELECT printf('vh_%012d', n), 240000, ${expiresAt(now, HOLD_TTL_MS)}, n % 1000 != 0 FROM s`],
  // finished Idempotency-Key records of image requests, with the response they replay
  idem: ({ now, falOrigin }) => [
    `INSERT INTO idem (key, fp, response, expires_at) SELECT printf('images:%064x', n), printf('%064x', n * 7919), ?, ${expiresAt(now, IDEM_TTL_MS)} FROM s`,
    JSON.stringify({ body: { created: Math.floor(now / 1000), data: [{ url: `${falOrigin}/files/${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}.png` }], output_format: 'png', size: '1024x1024' } }),
  ],
  // video job records, their final state stored once finished (one in a thousand still running)
  jobs: ({ now, falOrigin }) => [
    `INSERT INTO jobs (key, id, created_at, state, expires_at) SELECT printf('video:fal:%036d', n), printf('video_%0130d', n), ${Math.floor(now / 1000)} - n, CASE WHEN n % 1000 = 0 THEN NULL ELSE ? END, ${expiresAt(now, CLAIM_TTL_MS)} FROM s`,
    JSON.stringify({ s: 'completed', at: Math.floor(now / 1000), cost: 132000, a: { kind: 'url', url: `${falOrigin}/files/${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}.mp4`, contentType: 'video/mp4' } }),
  ],
};
/** Growing tables the ledger must have; any other one found is seeded when HISTORY_SEEDS knows its rows. */
const REQUIRED_TABLES = ['claims', 'holds', 'idem'];

/** Tables with an expiry column: the ones that grow with history (keys, account, usage, rate do not). */
async function growingTables(sql) {
  const rows = await sql.exec("SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE '%expires_at%' ORDER BY name");
  return rows.map((r) => String(r.name));
}

/** All rows and live rows per table. */
async function countRows(sql, tables) {
  const now = Date.now();
  const counts = {};
  for (const t of tables) {
    const [r] = await sql.exec(`SELECT count(*) AS total, coalesce(sum(expires_at > ?), 0) AS live FROM ${t}`, now);
    counts[t] = { total: Number(r.total), live: Number(r.live) };
  }
  return counts;
}

/**
 * Fills the account's ledger object with HISTORY_ROWS rows per growing table, by SQL run inside the Durable Object.
 * Returns the SQL handle, the seeded tables and the growing tables it could not seed (shape unknown to the bench).
 */
async function seedHistory(gw, account, falOrigin) {
  if (typeof gw.mf.unsafeGetDurableObjectStorage !== 'function') {
    throw new Error('this Miniflare has no unsafeGetDurableObjectStorage(): the history rows cannot be seeded inside the Durable Object');
  }
  const sql = await ledgerSql(gw, `account:${account}`);
  const found = await growingTables(sql);
  const missing = REQUIRED_TABLES.filter((t) => !found.includes(t));
  if (missing.length) throw new Error(`the ledger schema has no ${missing.join(', ')} table: update the bench's HISTORY_SEEDS`);
  const tables = found.filter((t) => HISTORY_SEEDS[t]);
  const t0 = performance.now();
  const cte = `WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < ${HISTORY_ROWS})`;
  for (const t of tables) {
    const [statement, ...bindings] = HISTORY_SEEDS[t]({ now: Date.now(), falOrigin });
    await sql.exec(`${cte} ${statement}`, ...bindings).catch((err) => {
      throw new Error(`seeding ${t} (its columns changed? update HISTORY_SEEDS): ${err.message}`);
    });
  }
  const counts = await countRows(sql, tables);
  for (const t of tables) {
    if (counts[t].total < HISTORY_ROWS || counts[t].live < HISTORY_ROWS / 2 - 1) throw new Error(`seeding ${t}: ${JSON.stringify(counts[t])}, want ≥ ${HISTORY_ROWS} rows, half live`);
  }
  log(`seeded ${HISTORY_ROWS} rows into each of ${tables.join(', ')} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return { sql, tables, unseeded: found.filter((t) => !HISTORY_SEEDS[t]) };
}

/** Fresh vs. seeded account: sequential paid images, interleaved. */
async function historySeries(script, vars, falOrigin) {
  const gw = await start({ script, vars, r2: false, inspect: true });
  const fresh = await paidKey(gw, 'bench-fresh');
  const seeded = await paidKey(gw, 'bench-history');
  const { sql, tables, unseeded } = await seedHistory(gw, 'bench-history', falOrigin);
  const before = await countRows(sql, tables);
  const rows = await interleaved(
    [
      imageTarget('fresh account', gw, fresh, `${falOrigin}/files/`),
      imageTarget(`${HISTORY_ROWS.toLocaleString('en-US')} rows in each of ${tables.join(', ')}`, gw, seeded, `${falOrigin}/files/`),
    ],
    1,
    N,
  );
  const after = await countRows(sql, tables);
  await gw.stop();
  // Seeded live rows outlive the run and requests only add live rows: expired rows that disappeared were swept.
  const expired = (c) => c.total - c.live;
  return { rows, swept: tables.reduce((sum, t) => sum + expired(before[t]) - expired(after[t]), 0), unseeded };
}

// ------------------------------------------------------------------------------------------------ report

const f2 = (v) => (v === null ? 'n/a' : v.toFixed(2));
const mi = (v) => (v === null || v === undefined ? 'n/a' : (v / 1e6).toFixed(3));
const signed = (v) => `${v >= 0 ? '+' : ''}${v.toFixed(2)}`;
const signedMi = (a, b) => (a === null || b === null ? 'n/a' : `${b - a >= 0 ? '+' : ''}${((b - a) / 1e6).toFixed(3)}`);
const percent = (a, b) => `${b - a >= 0 ? '+' : ''}${(((b - a) / a) * 100).toFixed(1)} %`;

function printTable(head, rows) {
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => String(r[c]).length)));
  const line = (cells) => cells.map((v, c) => (c === 0 ? String(v).padEnd(widths[c]) : String(v).padStart(widths[c]))).join('  ');
  console.log(line(head));
  console.log('-'.repeat(widths.reduce((a, b) => a + b + 2, -2)));
  for (const r of rows) console.log(line(r));
}

function report({ bundleSize, results, history, seconds, loadBefore, phi, own }) {
  const cpu = os.cpus();
  console.log(`\nphi-gateway bench, ${new Date().toISOString().slice(0, 10)}: ${cpu[0]?.model ?? 'unknown CPU'} × ${cpu.length} cores, Node ${process.version}`);
  console.log(`load average (1 min) before the run: ${loadBefore.toFixed(2)}; client, stand-in and workerd share these cores`);
  console.log(`bundle (wrangler deploy --dry-run --minify): ${bundleSize}`);
  console.log(`built bundle on workerd via Miniflare, 127.0.0.1; upstream = fal stand-in; ${N} sequential / ${N_CONCURRENT} at ${CONNECTIONS} connections per series after ${WARMUP} warm-up requests\n`);
  const all = [results.direct, results.floor, results.rehostFloor, results.image, results.imageR2, results.poll].flat();
  printTable(
    ['series', 'conns', 'n', 'p50 ms', 'p99 ms', 'req/s', 'CPU ms/req', 'M instr/req'],
    all.map((r) => [r.name, r.connections, r.n, f2(r.p50), f2(r.p99), r.rps.toFixed(0), f2(r.cpu), mi(r.ins)]),
  );

  console.log('(local R2 is simulated inside the same workerd process: its CPU is counted in the R2 rows;');
  console.log(' instructions are counted by perf on the workerd process: unlike CPU time, they hardly vary between runs)');
  const diff = (a, b) => [0, 1].map((i) => [i === 0 ? 'sequential' : `${CONNECTIONS} connections`, signed(b[i].p50 - a[i].p50), signed(b[i].cpu - a[i].cpu), signedMi(a[i].ins, b[i].ins)]);
  console.log('');
  printTable(
    ['derived (p50 and CPU/req differences)', '', 'p50 ms', 'CPU ms/req', 'M instr/req'],
    [
      ...diff(results.floor, results.image).map((r) => ['gateway own cost, paid image, no R2 (− floor)', ...r]),
      ...diff(results.rehostFloor, results.imageR2).map((r) => ['gateway own cost, paid image, R2 (− re-host floor)', ...r]),
      ...diff(results.image, results.imageR2).map((r) => ["R2 re-hosting's extra cost (R2 − no R2)", ...r]),
      ...diff(results.floor, results.rehostFloor).map((r) => ["  of which local R2's own (re-host floor − floor)", ...r]),
    ],
  );

  if (own) {
    const [floorSeq, gwSeq, shmSeq] = own.sequential;
    const [floorConc, gwConc, shmConc] = own.concurrent;
    const ownP50 = gwSeq.p50 - floorSeq.p50;
    const mark = (ok) => (ok ? 'met' : 'NOT met');
    console.log(`\nown cost (issue 23): the paid image against a bare Hono pass-through (hono/tiny, built the same way: ${own.floorSize}),`);
    console.log('both on workerd against an instant loopback fal, interleaved\n');
    printTable(
      ['series', 'conns', 'n', 'p50 ms', 'p99 ms', 'req/s', 'CPU ms/req'],
      [floorSeq, gwSeq, shmSeq, floorConc, gwConc, shmConc].filter(Boolean).map((r) => [r.name, r.connections, r.n, f2(r.p50), f2(r.p99), r.rps.toFixed(0), f2(r.cpu)]),
    );
    console.log('');
    printTable(['figure', 'value', `goal`], [
      ['own cost, p50 (gateway − Hono floor), sequential', `${signed(ownP50)} ms`, `≤ ${GOAL_OWN_P50_MS} ms: ${mark(ownP50 <= GOAL_OWN_P50_MS)}`],
      ['CPU per request, gateway (workerd utime+stime)', `${f2(gwSeq.cpu)} ms`, `≤ ${GOAL_CPU_MS} ms: ${mark(gwSeq.cpu !== null && gwSeq.cpu <= GOAL_CPU_MS)}`],
      ['  of which over the Hono floor', `${gwSeq.cpu === null ? 'n/a' : signed(gwSeq.cpu - floorSeq.cpu)} ms`, `(floor ${f2(floorSeq.cpu)} ms)`],
      [`throughput at ${CONNECTIONS} connections, gateway / floor`, `${gwConc.rps.toFixed(0)} / ${floorConc.rps.toFixed(0)} req/s`, ''],
      ...(shmSeq ? [['own cost with the ledger on tmpfs (no disk flush)', `${signed(shmSeq.p50 - floorSeq.p50)} ms`, `CPU ${f2(shmSeq.cpu)} ms/req`]] : []),
      ['SQL statements per admit (mean)', `${(own.statements / own.admits).toFixed(2)}`, `${own.admits} admits, ${own.statements} statements`],
    ]);
    console.log('(a warm admit runs 3: claim, balance, usage row; one sample insert rides on every 8th, the bounded sweep once a minute)');
  }

  const [fresh, seeded] = history.rows;
  console.log(`\nhistory: ${N} sequential paid images (no R2) per account, taking turns; seeded rows are half live, half expired,`);
  console.log(`and ${Math.floor(HISTORY_ROWS / 1000).toLocaleString('en-US')} of the live holds are unreleased (videos still rendering: every admit sums them)\n`);
  printTable(['account', 'n', 'p50 ms', 'p99 ms', 'CPU ms/req', 'M instr/req'], [
    ...history.rows.map((r) => [r.name, r.n, f2(r.p50), f2(r.p99), f2(r.cpu), mi(r.ins)]),
    [
      'difference (seeded vs. fresh)',
      '',
      percent(fresh.p50, seeded.p50),
      percent(fresh.p99, seeded.p99),
      percent(fresh.cpu, seeded.cpu),
      fresh.ins === null || seeded.ins === null ? 'n/a' : percent(fresh.ins, seeded.ins),
    ],
  ]);
  console.log(`(the seeded account's bounded sweeps removed ${history.swept.toLocaleString('en-US')} expired rows during the run)`);
  if (history.unseeded.length) console.log(`NOT seeded (growing tables whose rows the bench does not know): ${history.unseeded.join(', ')}`);
  if (phi) {
    console.log('\nPHI screening (issue 18), on Node in this process before the workers start, median of repeated runs:');
    printTable(['what', 'cost'], [
      ['4 KB clean prompt, text screen', `${phi.text.cleanUs.toFixed(1)} µs`],
      ['4 KB prompt, identifier near its end', `${phi.text.hitUs.toFixed(1)} µs`],
      ['2.5 MB JPEG, metadata strip', `${phi.media.jpeg2_5mbMs.toFixed(2)} ms`],
      ['10 MB JPEG, metadata strip', `${phi.media.jpeg10mbMs.toFixed(2)} ms`],
      ['strip throughput (linear in bytes, no decode)', `${phi.media.mbPerSec.toFixed(0)} MB/s`],
    ]);
  }
  console.log(`\ntotal bench time: ${seconds.toFixed(1)} s`);
}

// ------------------------------------------------------------------------------------------------ main

async function main() {
  const t0 = performance.now();
  const loadBefore = os.loadavg()[0];
  log('building the bundle');
  const bundle = buildBundle(); // before anything runs, so the build competes with no measurement
  undo.push(() => bundle.dispose());
  process.once('exit', () => bundle.dispose()); // also when Miniflare's own signal hook exits the process

  // The PHI screen's own cost, measured before anything else competes for the CPU.
  log('measuring the PHI screen');
  const phi = { text: await benchPhiText(), media: await benchPhiMedia() };

  const fal = await startFal({ key: FAL_KEY, record: false });
  undo.push(() => fal.close());
  const vars = { ...BASE_VARS, FAL_KEY, FAL_RUN_URL: fal.runUrl, FAL_QUEUE_URL: fal.queueUrl, FAL_MEDIA_HOSTS: fal.origin };
  const runPath = new URL(fal.runUrl).pathname;

  // Every worker runs from the start, so that the series can take turns.
  const floor = await start({ scriptText: FLOOR, vars: { UPSTREAM: fal.origin }, ledger: false, r2: false });
  const rehostFloor = await start({ scriptText: REHOST_FLOOR, vars: { UPSTREAM: fal.origin }, ledger: false, r2: true });
  const gw = await start({ script: bundle.script, vars, r2: false });
  const gwR2 = await start({ script: bundle.script, vars, r2: true });
  const key = await paidKey(gw);
  const targets = {
    direct: upstreamTarget('upstream direct (no worker)', fal.origin, runPath),
    floor: upstreamTarget('floor: bare pass-through worker', floor.url, runPath, floor.pid),
    rehostFloor: upstreamTarget('floor: bare re-host into R2', rehostFloor.url, runPath, rehostFloor.pid),
    image: imageTarget('gateway, paid image, no R2', gw, key, `${fal.origin}/files/`),
    imageR2: imageTarget('gateway, paid image, R2 re-host', gwR2, await paidKey(gwR2), `${gwR2.url}/v1/media/`),
    poll: pollTarget('gateway, poll of a finished video', gw, key, await finishedVideo(gw, key)),
  };
  const sequential = await interleaved(Object.values(targets), 1, N);
  const concurrent = await interleaved(Object.values(targets), CONNECTIONS, N_CONCURRENT);
  const results = Object.fromEntries(Object.keys(targets).map((k, i) => [k, [sequential[i], concurrent[i]]]));
  await Promise.all([floor.stop(), rehostFloor.stop(), gw.stop(), gwR2.stop()]);

  const own = await ownCostSeries(bundle);
  const history = await historySeries(bundle.script, vars, fal.origin);
  report({ bundleSize: bundle.size, results, history, loadBefore, seconds: (performance.now() - t0) / 1000, phi, own });
}

try {
  await main();
  await teardown();
  clearTimeout(deadline);
} catch (err) {
  await fail(err);
}
