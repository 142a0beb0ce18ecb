// The built gateway on workerd through Miniflare's API (no `wrangler dev` proxy in the way), for the benchmark and
// the memory run. Builds the bundle exactly as it deploys (`wrangler deploy --dry-run --minify`), starts it with
// the Durable Object ledger and (optionally) a local R2 bucket, and reads the workerd process's RSS and CPU time.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { convertV4MiniflareOptions, Miniflare, NoOpLog } from 'miniflare';
import { Agent } from 'undici';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = path.join(ROOT, 'node_modules', '.bin');
const WRANGLER = existsSync(path.join(BIN, 'wrangler')) ? path.join(BIN, 'wrangler') : 'wrangler';

export const ADMIN_TOKEN = 'bench-admin-token';
export const BASE_VARS = {
  ADMIN_TOKEN,
  SIGNING_SECRET: 'bench-signing-secret-0123456789abcdef-0123456789',
  TEST_API_KEY: 'phi_test_bench_shared_key',
};

/** wrangler.toml's compatibility date and flags (the bundle must run exactly as configured). */
function compat() {
  const toml = readFileSync(path.join(ROOT, 'wrangler.toml'), 'utf8');
  const date = toml.match(/^compatibility_date\s*=\s*"([^"]+)"/m)?.[1];
  const flags = [...(toml.match(/^compatibility_flags\s*=\s*\[([^\]]*)\]/m)?.[1] ?? '').matchAll(/"([^"]+)"/g)].map((m) => m[1]);
  if (!date) throw new Error('no compatibility_date in wrangler.toml');
  return { compatibilityDate: date, compatibilityFlags: flags };
}

/**
 * Builds a worker exactly as the gateway deploys (`wrangler deploy --dry-run --minify`, wrangler.toml's
 * compatibility date and flags): the gateway itself, or with `entry` another module (the bench's Hono floor) under
 * a generated config that differs in name and main only; `minify: false` keeps function names (for a profile).
 * Returns its path, size and a cleanup.
 */
export function buildBundle(entry, { minify = true } = {}) {
  const out = mkdtempSync(path.join(os.tmpdir(), 'phi-bundle-'));
  const config = [];
  if (entry) {
    const { compatibilityDate, compatibilityFlags } = compat();
    const toml = path.join(out, 'wrangler.toml');
    writeFileSync(toml, `name = "bench-floor"\nmain = ${JSON.stringify(path.resolve(ROOT, entry))}\ncompatibility_date = "${compatibilityDate}"\ncompatibility_flags = ${JSON.stringify(compatibilityFlags)}\n`);
    config.push('--config', toml);
  }
  const log = execFileSync(WRANGLER, ['deploy', '--dry-run', '--outdir', path.join(out, 'dist'), ...(minify ? ['--minify'] : []), ...config], {
    cwd: ROOT,
    timeout: 120_000,
    env: { ...process.env, PATH: `${BIN}${path.delimiter}${process.env.PATH}`, WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  }).toString();
  const size = log.match(/Total Upload:\s*([^\n]+)/)?.[1]?.trim() ?? 'unknown';
  const script = path.join(out, 'dist', path.basename(entry ?? 'index.ts').replace(/\.ts$/, '.js'));
  return { script, size, dispose: () => rmSync(out, { recursive: true, force: true }) };
}

const READY_TIMEOUT_MS = 60_000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms).unref());

/** The workerd processes this process started (Miniflare spawns them as direct children; others may be running). */
const workerdPids = () =>
  new Set(
    readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .filter((d) => {
        try {
          const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
          const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
          return ppid === process.pid && readFileSync(`/proc/${d}/comm`, 'utf8').trim() === 'workerd';
        } catch {
          return false;
        }
      })
      .map(Number),
  );

/**
 * Starts a worker script on its own workerd process: the gateway bundle (LEDGER Durable Object, MEDIA R2 unless
 * `r2: false`), or with `ledger: false` any module worker (a bare pass-through floor, an R2 reference).
 * `inspect: true` lets `ledgerSql` run SQL inside the ledger's objects (Miniflare wraps the class to allow it).
 */
export async function startWorker({ script, scriptText, vars = {}, ledger = true, r2 = true, quiet = true, inspect = false, stateDir, inspectorPort }) {
  const before = workerdPids();
  // Miniflare 5 takes a list of workers; the converter accepts the classic single-worker options.
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      modules: true,
      ...(scriptText ? { script: scriptText } : { scriptPath: script, modulesRoot: path.dirname(script) }),
      ...compat(),
      bindings: vars,
      // The gateway's one JSON line per request would drown the report.
      ...(quiet ? { log: new NoOpLog(), handleStructuredLogs: () => {} } : {}),
      ...(ledger ? { durableObjects: { LEDGER: { className: 'LedgerStore', useSQLite: true } } } : {}),
      ...(r2 ? { r2Buckets: ['MEDIA'] } : {}),
      ...(inspect ? { unsafeInspectDurableObjects: true } : {}),
      // Where the Durable Object and R2 state lives (default: Miniflare's temporary directory, on disk).
      ...(stateDir ? { resourcePersistencePath: stateDir } : {}),
      // The V8 inspector of workerd (Chrome DevTools protocol), for a CPU profile.
      ...(inspectorPort ? { inspectorPort } : {}),
    }),
  );
  try {
    const ready = await Promise.race([mf.ready, sleep(READY_TIMEOUT_MS).then(() => null)]);
    if (!ready) throw new Error(`workerd not ready after ${READY_TIMEOUT_MS / 1000} s`);
    const pid = [...workerdPids()].find((p) => !before.has(p));
    if (!pid) throw new Error('could not find the workerd process Miniflare started');
    return { mf, url: ready.toString().replace(/\/$/, ''), pid, stop: () => mf.dispose() };
  } catch (err) {
    await mf.dispose().catch(() => {});
    throw err;
  }
}

/**
 * SQL inside one LedgerStore object of a worker started with `inspect: true`, addressed by the name the gateway
 * derives its id from (`keys`, `account:<account>`). Returns `exec(sql, ...bindings)` → rows; the object is
 * started (constructor, migrations, schema) if it is not running yet.
 */
export function ledgerSql(worker, objectName) {
  // '' is the name Miniflare gives the single worker of classic (v4-style) options.
  return worker.mf.unsafeGetDurableObjectStorage('', 'LedgerStore', { name: objectName });
}

/** Resident set size of a process, bytes. */
export function rssBytes(pid) {
  const kb = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB/m)?.[1];
  return Number(kb) * 1024;
}

const TICKS = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

/** User + system CPU time of a process so far, ms. */
export function cpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS;
}

/** Samples a process's RSS every `everyMs` while `work` runs; returns the work's result and the peak. */
export async function peakRss(pid, work, everyMs = 5) {
  let peak = rssBytes(pid);
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, rssBytes(pid));
    } catch {
      /* process gone */
    }
  }, everyMs);
  try {
    const result = await work();
    peak = Math.max(peak, rssBytes(pid));
    return { result, peak };
  } finally {
    clearInterval(timer);
  }
}

export const MiB = 1024 * 1024;

/** A fetch that never reuses a connection workerd may already have closed (keep-alive races on long runs). */
const agent = new Agent({ keepAliveTimeout: 10, keepAliveMaxTimeout: 10 });
export const freshFetch = (url, init = {}) => fetch(url, { ...init, dispatcher: agent });
export const fmtMiB = (b) => `${(b / MiB).toFixed(1)} MiB`;

/**
 * Counts the CPU instructions a process executes while `work` runs (Linux perf, hardware counters): unlike CPU
 * time, nearly the same from run to run. Null where perf is missing or the machine has no counters.
 */
export async function instructions(pid, work) {
  let perf;
  try {
    perf = spawn('perf', ['stat', '-x', ',', '-e', 'instructions', '-p', String(pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch {
    return { result: await work(), count: null };
  }
  let err = '';
  perf.stderr.on('data', (d) => (err += d));
  const exited = new Promise((resolve) => {
    perf.once('exit', resolve);
    perf.once('error', resolve);
  });
  await new Promise((r) => setTimeout(r, 150)); // attached
  const result = await work();
  perf.kill('SIGINT');
  await exited;
  const line = err.split('\n').find((l) => /,instructions/.test(l));
  const count = line ? Number(line.split(',')[0]) : NaN;
  return { result, count: Number.isFinite(count) ? count : null };
}
