// `npm run profile`: where a paid image's CPU goes inside workerd — a V8 CPU profile (Chrome DevTools protocol on
// workerd's inspector) of the gateway's bundle, built unminified so functions keep their names, under sequential
// paid images against the instant fal stand-in (test/standins/fal-instant.mjs). The worker and its LedgerStore
// Durable Object run in the same isolate, so one profile holds both sides of the ledger call.
//
// Prints the functions with the most self time and the call tree down to PROFILE_MIN_US per request. The sampling
// profiler inflates native calls (a sample taken inside one is charged to its JS caller) and its own overhead
// multiplies the wall time: read it for proportions, not for absolute cost — `npm run bench` gives the figures.
// The writes' commit (SQLite + fsync) happens outside JS and shows as "(program)"; `perf record -p <workerd pid>`
// sees it (README "Where a paid image's time goes").
//
// Env: PROFILE_N (profiled requests, default 2000), PROFILE_INTERVAL_US (sampling interval, 400),
// PROFILE_MIN_US (tree cut-off, µs per request, 15), PROFILE_OUT (also write the .cpuprofile for DevTools there).
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { Pool } from 'undici';
import { startInstantFal } from '../test/standins/fal-instant.mjs';
import { ADMIN_TOKEN, BASE_VARS, buildBundle, freshFetch, startWorker } from './lib/workerd.mjs';

const num = (name, def) => (process.env[name] ? Number(process.env[name]) : def);
const N = num('PROFILE_N', 2000);
const INTERVAL_US = num('PROFILE_INTERVAL_US', 400);
const MIN_US = num('PROFILE_MIN_US', 15);
const FAL_KEY = 'profile-fal-key';

/** A free loopback port for the inspector. */
const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

/** One Chrome DevTools protocol session over the inspector's WebSocket (Node 22's global WebSocket). */
async function devtools(url) {
  const ws = new WebSocket(url);
  await new Promise((resolve, reject) => ((ws.onopen = resolve), (ws.onerror = reject)));
  let id = 0;
  const waiting = new Map();
  ws.onmessage = (m) => {
    const msg = JSON.parse(m.data);
    if (msg.id && waiting.has(msg.id)) waiting.get(msg.id)(msg);
  };
  return {
    send: (method, params = {}) => new Promise((resolve) => (waiting.set(++id, resolve), ws.send(JSON.stringify({ id, method, params })))),
    close: () => ws.close(),
  };
}

/** Self and inclusive time per node of a V8 CPU profile. */
function times(profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  profile.samples.forEach((s, i) => self.set(s, (self.get(s) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const total = new Map();
  const sum = (id) => {
    let t = self.get(id) ?? 0;
    for (const c of byId.get(id).children ?? []) t += sum(c);
    total.set(id, t);
    return t;
  };
  sum(profile.nodes[0].id);
  return { byId, self, total };
}

const label = (n) => `${n.callFrame.functionName || '(anonymous)'}:${n.callFrame.lineNumber + 1}`;

function report(profile, wallMs) {
  const { byId, self, total } = times(profile);
  const per = (us) => (us / N).toFixed(0).padStart(6);
  console.log(`\n${N} sequential paid images, ${(wallMs / N).toFixed(2)} ms each while profiled (sampling every ${INTERVAL_US} µs)`);
  console.log('\nself time, µs per request (functions by name:line in the unminified bundle)');
  const bySelf = new Map();
  for (const [id, us] of self) bySelf.set(label(byId.get(id)), (bySelf.get(label(byId.get(id))) ?? 0) + us);
  for (const [name, us] of [...bySelf].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log(`${per(us)}  ${name}`);
  console.log(`\ncall tree, inclusive µs per request (self in brackets), down to ${MIN_US} µs`);
  const walk = (id, depth) => {
    const us = total.get(id) / N;
    if (us < MIN_US) return;
    console.log(`${' '.repeat(depth)}${us.toFixed(0)} [${((self.get(id) ?? 0) / N).toFixed(0)}] ${label(byId.get(id))}`);
    for (const c of [...(byId.get(id).children ?? [])].sort((a, b) => total.get(b) - total.get(a))) walk(c, depth + 1);
  };
  walk(profile.nodes[0].id, 0);
}

async function main() {
  const bundle = buildBundle(undefined, { minify: false });
  const fal = await startInstantFal({ key: FAL_KEY });
  const inspectorPort = await freePort();
  const vars = { ...BASE_VARS, FAL_KEY, FAL_RUN_URL: fal.runUrl, FAL_QUEUE_URL: `${fal.origin}/queue`, FAL_MEDIA_HOSTS: fal.origin };
  const gw = await startWorker({ script: bundle.script, vars, r2: false, inspectorPort });
  try {
    const issued = await freshFetch(`${gw.url}/admin/keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ tier: 'paid', account: 'profile', credits_micro: 1e12, rpm: 100_000 }),
    });
    if (issued.status !== 201) throw new Error(`issuing a key: ${issued.status} ${await issued.text()}`);
    const { key } = await issued.json();
    const pool = new Pool(gw.url, { connections: 1 });
    const image = async (i) => {
      const res = await pool.request({ method: 'POST', path: '/v1/images/generations', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ prompt: `profile ${i}: a calm clinic waiting room` }) });
      const text = await res.body.text();
      if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}: ${text.slice(0, 300)}`);
    };
    for (let i = 0; i < 200; i++) await image(-1 - i); // warm: JIT, key cache, the account's object
    const targets = await (await fetch(`http://127.0.0.1:${inspectorPort}/json/list`)).json();
    const target = targets.find((t) => /core:user/.test(t.title ?? '')) ?? targets[0];
    const cdp = await devtools(target.webSocketDebuggerUrl);
    await cdp.send('Profiler.enable');
    await cdp.send('Profiler.setSamplingInterval', { interval: INTERVAL_US });
    await cdp.send('Profiler.start');
    const t0 = performance.now();
    for (let i = 0; i < N; i++) await image(i);
    const wallMs = performance.now() - t0;
    const { result } = await cdp.send('Profiler.stop');
    cdp.close();
    await pool.destroy();
    if (process.env.PROFILE_OUT) writeFileSync(process.env.PROFILE_OUT, JSON.stringify(result.profile));
    report(result.profile, wallMs);
  } finally {
    await gw.stop();
    await fal.close();
    bundle.dispose();
  }
}

await main();
