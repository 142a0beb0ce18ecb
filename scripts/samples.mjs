// Writes the sample inputs the README walkthrough uploads: samples/portrait.png (512x512, a simple drawn face) and
// samples/voice.wav (2 s of 16 kHz mono 16-bit PCM: a soft, voice-like gliding tone in syllable-sized pulses).
// Usage: node scripts/samples.mjs   (writes ./samples/ under the current directory; gitignored in the checkout).
// Only node: builtins and the stand-ins' media helpers; any Node ≥ 18 runs it.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { rgbPng } from '../test/standins/media.mjs';
import { wav } from '../test/standins/files.mjs';

const dir = join(process.cwd(), 'samples');

/** A 512x512 cartoon head and shoulders on a soft gradient. */
function portrait(size = 512) {
  const px = new Uint8Array(size * size * 3);
  // Shapes in unit coordinates (0..1), painted back to front; the last one containing a pixel wins.
  const ellipse = (cx, cy, rx, ry) => (x, y) => ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1;
  const and = (...fs) => (x, y) => fs.every((f) => f(x, y));
  const not = (f) => (x, y) => !f(x, y);
  const layers = [
    [ellipse(0.5, 1.08, 0.42, 0.3), [62, 96, 150]], // shoulders (a blue top)
    [and(ellipse(0.5, 0.78, 0.08, 0.12), (x, y) => y > 0.62), [222, 178, 146]], // neck
    [ellipse(0.5, 0.39, 0.25, 0.3), [86, 56, 40]], // hair, behind the face
    [ellipse(0.29, 0.47, 0.04, 0.07), [226, 182, 150]], // ears
    [ellipse(0.71, 0.47, 0.04, 0.07), [226, 182, 150]],
    [and(ellipse(0.5, 0.48, 0.2, 0.26), not(and(ellipse(0.5, 0.2, 0.26, 0.16), (x, y) => y < 0.31))), [236, 196, 164]], // face below a fringe
    [and(ellipse(0.41, 0.38, 0.06, 0.012), (x, y) => y < 0.38), [70, 46, 34]], // eyebrows
    [and(ellipse(0.59, 0.38, 0.06, 0.012), (x, y) => y < 0.38), [70, 46, 34]],
    [ellipse(0.41, 0.44, 0.045, 0.025), [250, 250, 250]], // eyes
    [ellipse(0.59, 0.44, 0.045, 0.025), [250, 250, 250]],
    [ellipse(0.41, 0.44, 0.018, 0.022), [60, 90, 70]],
    [ellipse(0.59, 0.44, 0.018, 0.022), [60, 90, 70]],
    [ellipse(0.41, 0.44, 0.008, 0.01), [20, 20, 20]],
    [ellipse(0.59, 0.44, 0.008, 0.01), [20, 20, 20]],
    [and(ellipse(0.5, 0.53, 0.025, 0.045), (x, y) => y > 0.52), [214, 164, 134]], // nose
    [and(ellipse(0.5, 0.6, 0.08, 0.045), not(ellipse(0.5, 0.585, 0.085, 0.04))), [180, 80, 80]], // smile
    [ellipse(0.37, 0.56, 0.04, 0.02), [240, 180, 160]], // cheeks
    [ellipse(0.63, 0.56, 0.04, 0.02), [240, 180, 160]],
  ];
  for (let j = 0; j < size; j++) {
    for (let i = 0; i < size; i++) {
      const x = (i + 0.5) / size, y = (j + 0.5) / size;
      let rgb = [200 - 60 * y, 222 - 40 * y, 236 - 20 * x]; // background: pale blue, darker towards the bottom
      for (const [inside, colour] of layers) if (inside(x, y)) rgb = colour;
      px.set(rgb.map(Math.round), (j * size + i) * 3);
    }
  }
  return rgbPng(size, size, px);
}

/** 2 s at 16 kHz: a fundamental gliding 140-240 Hz with a few harmonics, in soft 4 Hz "syllables", faded in/out. */
function voice(ms = 2000) {
  const file = wav(ms); // header + silence; the samples start at byte 44
  const rate = 16000, n = (file.length - 44) / 2;
  let phase = 0;
  for (let k = 0; k < n; k++) {
    const t = k / rate;
    const f0 = 190 + 50 * Math.sin(2 * Math.PI * 0.7 * t); // slow intonation
    phase += (2 * Math.PI * f0) / rate;
    const tone = Math.sin(phase) + 0.5 * Math.sin(2 * phase) + 0.25 * Math.sin(3 * phase) + 0.12 * Math.sin(4 * phase);
    const syllables = 0.35 + 0.65 * Math.sin(Math.PI * 4 * t) ** 2;
    const fade = Math.min(1, t / 0.05, (ms / 1000 - t) / 0.05);
    file.writeInt16LE(Math.round(32767 * 0.2 * (tone / 1.87) * syllables * fade), 44 + k * 2);
  }
  return file;
}

mkdirSync(dir, { recursive: true });
for (const [name, bytes] of [['portrait.png', portrait()], ['voice.wav', voice()]]) {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  console.log(path);
}
