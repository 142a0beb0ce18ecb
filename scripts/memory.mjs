// `npm run memory`: four concurrent maximum-size requests of every kind the gateway buffers or streams, against
// the built bundle on workerd (Miniflare API). Prints the workerd process's RSS at the start and at its peak during
// each quadruple (after one warm-up quadruple), and exits 1 if the gateway's own rise passes BUDGET.
//
// Local R2 is simulated inside the same workerd process and buffers what it stores, so for the re-host scenarios
// the same four files are also streamed into R2 by a reference worker that does nothing else (fetch → put); the
// gateway's own cost is its rise minus that floor. In production R2 is a separate service.
import { startComfy } from '../test/standins/comfy.mjs';
import { startFal } from '../test/standins/fal.mjs';
import { startFiles, wav } from '../test/standins/files.mjs';
import { padded, png } from '../test/standins/media.mjs';
import { ADMIN_TOKEN, BASE_VARS, buildBundle, fmtMiB, freshFetch, MiB, peakRss, rssBytes, startWorker } from './lib/workerd.mjs';

/** The gateway's own rise over its starting RSS that four concurrent maximum-size requests must stay under. */
const BUDGET = 64 * MiB;
// The caps the gateway enforces (src/media/deliver.ts, src/media/store.ts, src/media/inputs.ts, src/app.ts).
const B64_TOTAL = 12 * MiB;
const IMAGE_OUTPUT = 32 * MiB;
const UNSIZED = 8 * MiB;
const INPUT_IMAGE = 6 * MiB;
const INPUT_AUDIO = 6 * MiB;
const VIDEO_JSON_BODY = 2 * MiB;
const VIDEO_FILE = Number(process.env.MEMORY_VIDEO_MIB ?? 64) * MiB;
const FAL_KEY = 'mem-fal-key';

const log = (...a) => console.log('[memory]', ...a);
const text = (b) => Buffer.from(b).toString('utf8');

async function call(base, path, init, want = 200) {
  let res;
  try {
    res = await freshFetch(`${base}${path}`, { ...init, signal: AbortSignal.timeout(180_000) });
  } catch (err) {
    throw new Error(`${init?.method ?? 'GET'} ${path}: ${err.cause?.message ?? err.message}`);
  }
  const body = await res.arrayBuffer();
  if (res.status !== want) throw new Error(`${init?.method ?? 'GET'} ${path} → ${res.status}: ${text(body).slice(0, 300)}`);
  return { res, body };
}

const jsonInit = (key, body) => ({ method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
const four = (fn) => Promise.all([0, 1, 2, 3].map(fn));

async function issue(base, tier = 'paid') {
  const init = { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ tier, credits_micro: 1_000_000_000, rpm: 100_000 }) };
  return JSON.parse(text((await call(base, '/admin/keys', init, 201)).body)).key;
}

/** Four output files of `size` bytes on the fal stand-in's CDN (a finished text-to-video job each). */
async function falFiles(fal, size) {
  return four(async (i) => {
    const h = { authorization: `Key ${FAL_KEY}`, 'content-type': 'application/json' };
    const submit = await (await fetch(`${fal.queueUrl}/fal-ai/krea-wan-14b/text-to-video`, { method: 'POST', headers: h, body: JSON.stringify({ prompt: `floor ${i} #fal-size-${size}`, num_frames: 30 }) })).json();
    await new Promise((r) => setTimeout(r, 1_600));
    return (await (await fetch(submit.response_url, { headers: h })).json()).video.url;
  });
}

/** The minimal re-host: fetch a file and stream it into R2 with its length. The floor of local R2's own cost. */
const REFERENCE = `export default { async fetch(req, env) {
  if (new URL(req.url).pathname === '/healthz') return new Response('ok');
  const res = await fetch(new URL(req.url).searchParams.get('u'));
  const fixed = new FixedLengthStream(Number(res.headers.get('content-length')));
  res.body.pipeTo(fixed.writable);
  await env.MEDIA.put(crypto.randomUUID(), fixed.readable);
  return new Response('ok');
} }`;

/**
 * Local R2 keeps writing to disk after a large put has been answered, and workerd drops new connections until
 * it is done: wait for it to answer again before the next round.
 */
async function settle(base) {
  await new Promise((r) => setTimeout(r, 2_000));
  for (let i = 0; i < 60; i++) {
    try {
      if ((await freshFetch(`${base}/healthz`, { signal: AbortSignal.timeout(2_000) })).ok) return;
    } catch {
      /* still busy */
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function measure(gw, run) {
  await run(); // warm-up: first use of each path
  await settle(gw.url);
  const start = rssBytes(gw.pid);
  const { peak } = await peakRss(gw.pid, run);
  await settle(gw.url);
  return { start, peak, rise: peak - start };
}

async function main() {
  const fal = await startFal({ key: FAL_KEY, record: false });
  const comfy = await startComfy({ token: 'mem-worker-token' });
  const files = await startFiles();
  const bundle = buildBundle();
  const vars = {
    ...BASE_VARS,
    FAL_KEY,
    FAL_RUN_URL: fal.runUrl,
    FAL_QUEUE_URL: fal.queueUrl,
    FAL_MEDIA_HOSTS: fal.origin,
    WORKER_URL: comfy.url,
    WORKER_TOKEN: 'mem-worker-token',
    ALLOW_INSECURE_URLS: 'true',
  };
  const image = (body) => (gw, key) => () => four((i) => call(gw.url, '/v1/images/generations', jsonInit(key, { ...body, prompt: `${body.prompt} ${i}` })));
  /** The same four re-hosts by the reference worker. */
  const floor = (size) => async () => {
    const urls = await falFiles(fal, size);
    const reference = await startWorker({ scriptText: REFERENCE, ledger: false });
    try {
      return await measure(reference, () => four((i) => call(reference.url, `/?u=${encodeURIComponent(urls[i])}`, {})));
    } finally {
      await reference.stop();
    }
  };
  // [name, R2 bound, key tier, run(gateway, key), floor]
  const scenarios = [
    ['b64_json: 1 image at the 12 MiB budget', false, 'paid', image({ prompt: `mem b64 #fal-size-${B64_TOTAL - 64 * 1024}`, response_format: 'b64_json' })],
    ['b64_json: 4 images sharing the budget', false, 'paid', image({ prompt: `mem b64x4 #fal-size-${B64_TOTAL / 4 - 64 * 1024}`, response_format: 'b64_json', n: 4 })],
    ['re-host a 32 MiB image into R2 (streamed)', true, 'paid', image({ prompt: `mem rehost #fal-size-${IMAGE_OUTPUT - 1024}` }), floor(IMAGE_OUTPUT - 1024)],
    ['re-host an 8 MiB image without Content-Length', true, 'paid', image({ prompt: `mem unsized #fal-chunked #fal-size-${UNSIZED - 1024}` }), floor(UNSIZED - 1024)],
    [
      `re-host a ${VIDEO_FILE / MiB} MiB video on its first poll`,
      true,
      'paid',
      (gw, key) => async () => {
        const ids = await four(async (i) => JSON.parse(text((await call(gw.url, '/v1/videos', jsonInit(key, { prompt: `mem video ${i} #fal-size-${VIDEO_FILE}`, seconds: 2 }))).body)).id);
        await new Promise((r) => setTimeout(r, 1_700));
        return four((i) => call(gw.url, `/v1/videos/${ids[i]}`, { headers: { authorization: `Bearer ${key}` } }));
      },
      floor(VIDEO_FILE),
    ],
    [
      'multipart upload: 6 MiB image + 6 MiB audio → fal (streamed as data URIs)',
      false,
      'paid',
      (gw, key) => {
        const img = padded(png(8, 8), INPUT_IMAGE - 1024);
        const audio = padded(wav(100), INPUT_AUDIO - 1024);
        return () =>
          four((i) => {
            const form = new FormData();
            form.append('prompt', `mem upload ${i}`);
            form.append('input_reference', new Blob([img]), 'face.png');
            form.append('audio', new Blob([audio]), 'voice.wav');
            return call(gw.url, '/v1/videos', { method: 'POST', headers: { authorization: `Bearer ${key}` }, body: form });
          });
      },
    ],
    [
      'JSON with data: URIs at the 2 MiB body limit',
      false,
      'paid',
      (gw, key) => {
        const each = Math.floor(((VIDEO_JSON_BODY - 4096) / 2) * 0.75) - 1024;
        const img = `data:image/png;base64,${padded(png(8, 8), Math.min(each, INPUT_IMAGE)).toString('base64')}`;
        const audio = `data:audio/wav;base64,${padded(wav(100), Math.min(each, INPUT_AUDIO)).toString('base64')}`;
        return () => four((i) => call(gw.url, '/v1/videos', jsonInit(key, { prompt: `mem datauri ${i}`, image_url: img, audio_url: audio })));
      },
    ],
    [
      'worker tier: the gateway fetches a 6 MiB image URL and uploads it',
      false,
      'test',
      (gw, key) => () => four((i) => call(gw.url, '/v1/videos', jsonInit(key, { prompt: `mem fetch ${i}`, model: 'wan', image_url: `${files.url}/sized.png?bytes=${INPUT_IMAGE - 1024}` }))),
    ],
  ];
  const rows = [];
  const only = process.env.MEMORY_ONLY;
  try {
    for (const [name, r2, tier, makeRun, makeFloor] of scenarios.filter(([n]) => !only || n.includes(only))) {
      // A fresh workerd per scenario: RSS has no high-water mark from an earlier one.
      const gw = await startWorker({ script: bundle.script, vars, r2 });
      let g;
      try {
        g = await measure(gw, makeRun(gw, await issue(gw.url, tier)));
      } finally {
        await gw.stop();
      }
      const f = makeFloor ? await makeFloor() : null;
      const own = g.rise - (f?.rise ?? 0);
      rows.push({ name, ...g, floor: f?.rise ?? null, own });
      log(`${name}: start ${fmtMiB(g.start)}, peak ${fmtMiB(g.peak)}, rise ${fmtMiB(g.rise)}${f ? `, local-R2 floor ${fmtMiB(f.rise)}` : ''}`);
    }
  } finally {
    bundle.dispose();
    await Promise.all([fal.close(), comfy.close(), files.close()]);
  }
  const width = Math.max(...rows.map((r) => r.name.length));
  const col = (v) => (v === null ? '—' : fmtMiB(v)).padStart(11);
  console.log(`\nworkerd RSS under four concurrent maximum-size requests (${new Date().toISOString().slice(0, 10)}, ${process.arch}, Node ${process.version}):\n`);
  console.log(`${'scenario'.padEnd(width)}  ${'start'.padStart(11)}  ${'peak'.padStart(11)}  ${'rise'.padStart(11)}  ${'R2 floor'.padStart(11)}  ${'gateway'.padStart(11)}`);
  for (const r of rows) console.log(`${r.name.padEnd(width)}  ${col(r.start)}  ${col(r.peak)}  ${col(r.rise)}  ${col(r.floor)}  ${col(r.own)}`);
  const worst = rows.reduce((a, b) => (b.own > a.own ? b : a));
  console.log(`\nlargest own rise: ${fmtMiB(worst.own)} (${worst.name}); budget ${fmtMiB(BUDGET)} (the isolate limit is 128 MB)`);
  if (worst.own > BUDGET) process.exit(1);
}

await main();
