// Micro-benchmark of the PHI text screen (src/phi/screen.ts), bundled for Node with esbuild on the fly: a 4 KB
// realistic clean prompt (clinic and product copy from test/fixtures/clean-prompts.ts, full of prices, phone
// numbers, dates and codes) and the same prompt with a date of birth near its end (the last rule to look, so about
// the whole cost of a clean prompt), each called many times per run, median of several runs of CPU time. Node's V8, not
// workerd: the figure that carries over is the order of magnitude (a few tens of µs for 4 KB, linear in the size).
// `node scripts/lib/bench-phi-text.mjs` prints the figures; benchPhiText() returns them.
import { build } from 'esbuild';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const RUNS = 15;
const WARMUP = 3;
const CALLS = 2000;
const SIZE = 4096;

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** The corpus prompts, in order, as sentences, up to exactly `size` characters. */
function cleanPrompt(prompts, size) {
  let text = '';
  for (let i = 0; text.length < size; i++) text += `${prompts[i % prompts.length]}. `;
  return text.slice(0, size);
}

/**
 * CPU µs per call of screenText(text), one run of CALLS calls: this process's user + system time (what a Worker's
 * CPU limit counts), so that other processes on a shared machine stretch the figure less than wall-clock time would.
 */
function run(screenText, text) {
  let found = 0;
  const t = process.cpuUsage();
  for (let i = 0; i < CALLS; i++) if (screenText(text) !== null) found++;
  const d = process.cpuUsage(t);
  return { us: (d.user + d.system) / CALLS, found };
}

/** { cleanUs, hitUs }: median µs per screenText call on a 4 KB clean prompt and on one with an identifier near the end. */
export async function benchPhiText() {
  const dir = mkdtempSync(path.join(tmpdir(), 'phi-text-bench-'));
  try {
    const out = path.join(dir, 'screen.mjs');
    await build({
      stdin: {
        contents: "export { screenText } from './src/phi/screen.ts'; export { CLEAN_PROMPTS } from './test/fixtures/clean-prompts.ts';",
        resolveDir: ROOT,
        loader: 'ts',
      },
      bundle: true,
      platform: 'node',
      format: 'esm',
      outfile: out,
      logLevel: 'error',
    });
    const { screenText, CLEAN_PROMPTS } = await import(pathToFileURL(out).href);
    const clean = cleanPrompt(CLEAN_PROMPTS, SIZE);
    const tail = ' Patient DOB: 03/14/1962.';
    const hit = clean.slice(0, SIZE - tail.length - 20) + tail + clean.slice(SIZE - 20);
    if (screenText(clean) !== null) throw new Error('the clean benchmark prompt was flagged: the corpus or the screen changed');
    if (screenText(hit) !== 'dob') throw new Error('the benchmark identifier was not caught');
    const cleanRuns = [];
    const hitRuns = [];
    for (let i = 0; i < WARMUP + RUNS; i++) {
      // The two take turns, so that the machine's drift over the run hits both alike.
      const c = run(screenText, clean);
      const h = run(screenText, hit);
      if (c.found !== 0 || h.found !== CALLS) throw new Error('the screen answered differently from one call to the next');
      if (i >= WARMUP) (cleanRuns.push(c.us), hitRuns.push(h.us));
    }
    const round = (n) => Math.round(n * 100) / 100;
    return { cleanUs: round(median(cleanRuns)), hitUs: round(median(hitRuns)) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const r = await benchPhiText();
  console.log(`PHI text screen, ${SIZE / 1024} KB prompt: clean ${r.cleanUs} µs, identifier near the end ${r.hitUs} µs per call (median of ${RUNS} runs × ${CALLS} calls)`);
  console.log(JSON.stringify(r));
}
