// Micro-benchmark of metadata stripping (src/media/strip.ts), bundled for Node with esbuild on the fly: a synthetic
// 10 MB JPEG (APP1 Exif of 60 KB, ~10 MB of scan data) and a 2.5 MB one, median of several runs each. Stripping
// walks the segments up to SOS and copies the kept ranges once, so the time should scale with the bytes (the two
// sizes give about the same MB/s). Node's V8, not workerd: the figure that carries over is the linear scaling.
// `node scripts/lib/bench-phi-media.mjs` prints the figures; benchPhiMedia() returns them.
import { build } from 'esbuild';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const MB = 1_000_000;
const RUNS = 15;
const WARMUP = 3;

const segment = (marker, data) => {
  const out = new Uint8Array(4 + data.length);
  out.set([0xff, marker, (data.length + 2) >> 8, (data.length + 2) & 0xff]);
  out.set(data, 4);
  return out;
};
const ascii = (s) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const cat = (...parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) (out.set(p, at), (at += p.length));
  return out;
};

/** A baseline JPEG of about `size` bytes: APP0, a 60 KB Exif APP1 (orientation 6 + filler), tables, SOS, scan, EOI. */
function syntheticJpeg(size) {
  const exifBody = new Uint8Array(60_000 - 4);
  exifBody.set(ascii('Exif\0\0MM\0\x2a\0\0\0\x08'));
  // IFD0: 1 entry (Orientation SHORT 6), next IFD 0; the rest is filler standing in for maker notes and a thumbnail.
  exifBody.set([0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0], 14);
  const head = cat(
    Uint8Array.of(0xff, 0xd8),
    segment(0xe0, ascii('JFIF\0\x01\x01\0\0\x01\0\x01\0\0')),
    segment(0xe1, exifBody),
    segment(0xdb, new Uint8Array(65).fill(1)),
    segment(0xc0, Uint8Array.of(8, 0x10, 0, 0x10, 0, 3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1)),
    segment(0xc4, new Uint8Array(29).fill(1)),
    segment(0xda, Uint8Array.of(3, 1, 0, 2, 0x11, 3, 0x11, 0, 0x3f, 0)),
  );
  const scan = new Uint8Array(size - head.length - 2);
  let x = 0x2545f491;
  for (let i = 0; i < scan.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    scan[i] = x & 0xff;
    if (scan[i] === 0xff) scan[++i] = 0x00; // stuffed, as entropy-coded data is
  }
  return cat(head, scan, Uint8Array.of(0xff, 0xd9));
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/**
 * A full collection, run between timed runs so that the garbage of earlier runs (10 MB outputs) is never collected
 * inside a timed one: without it the figures swing by an order of magnitude from one run to the next.
 */
function collector() {
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc');
}

function time(stripMetadata, file, collect) {
  let removed = 0;
  const runs = [];
  for (let i = 0; i < WARMUP + RUNS; i++) {
    collect();
    const t = performance.now();
    const r = stripMetadata(file, 'image/jpeg');
    const ms = performance.now() - t;
    removed = file.length - r.bytes.length;
    if (i >= WARMUP) runs.push(ms);
  }
  if (removed <= 0) throw new Error('the benchmark JPEG lost no metadata: the stripper did not run');
  return median(runs);
}

/** { jpeg10mbMs, jpeg2_5mbMs, mbPerSec }: median milliseconds to strip each file, and MB/s on the 10 MB one. */
export async function benchPhiMedia() {
  const dir = mkdtempSync(path.join(tmpdir(), 'phi-strip-bench-'));
  try {
    const out = path.join(dir, 'strip.mjs');
    await build({ entryPoints: [path.join(ROOT, 'src/media/strip.ts')], bundle: true, platform: 'node', format: 'esm', outfile: out, logLevel: 'error' });
    const { stripMetadata } = await import(pathToFileURL(out).href);
    const big = syntheticJpeg(10 * MB);
    const small = syntheticJpeg(2.5 * MB);
    const collect = collector();
    const jpeg10mbMs = time(stripMetadata, big, collect);
    const jpeg2_5mbMs = time(stripMetadata, small, collect);
    const round = (n) => Math.round(n * 1000) / 1000;
    return { jpeg10mbMs: round(jpeg10mbMs), jpeg2_5mbMs: round(jpeg2_5mbMs), mbPerSec: Math.round(big.length / MB / (jpeg10mbMs / 1000)) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const r = await benchPhiMedia();
  console.log(`strip 10 MB JPEG: ${r.jpeg10mbMs} ms (median of ${RUNS}), 2.5 MB: ${r.jpeg2_5mbMs} ms, ${r.mbPerSec} MB/s`);
  console.log(JSON.stringify(r));
}
