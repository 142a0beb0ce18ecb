// Tiny, dependency-free media fixtures for the stand-ins: real PNG files and real, decodable MP4 files.
// Only node: builtins (no ffmpeg at run time). The H.264 frames come from fixtures/h264-64x64.h264, a raw
// Annex-B stream made once with ffmpeg 5.1 / libx264 0.164 (Debian 12) by this command, run in fixtures/:
//
//   ffmpeg -v error -f lavfi -i "nullsrc=s=64x64:r=16,geq=lum='60+X+Y/2':cb='150-Y/2':cr='110+X/4'[bg];color=c=0xf4d35e:s=16x16:r=16[box];[bg][box]overlay=x='24+16*cos(2*PI*t)':y='24+16*sin(2*PI*t)'" -frames:v 16 -c:v libx264 -profile:v baseline -preset veryslow -x264-params keyint=1:scenecut=0 -crf 28 -pix_fmt yuv420p -f h264 h264-64x64.h264
//
// i.e. 16 frames, 64x64, Constrained Baseline, every frame an IDR (idr_pic_id alternating 0/1): a yellow square
// circling once over a blue-grey gradient, so the 16 frames loop seamlessly. mp4() and fmp4() use its SPS/PPS
// and repeat its 16 slices for as many samples as the duration needs; the picture is always 64x64 pixels, and
// their width/height options only set the track's presentation size (tkhd), which players scale to.
import { randomFillSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { constants as zlibConstants, deflateSync } from 'node:zlib';

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (IEEE, as used by PNG and zlib). @param {Uint8Array} buf @returns {number} */
export function crc32(buf) {
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const u8 = (n) => Buffer.from([n & 0xff]);
const u16 = (n) => { const b = Buffer.alloc(2); b.writeUInt16BE(n & 0xffff); return b; };
const u32 = (n) => { const b = Buffer.alloc(4); b.writeUInt32BE(n >>> 0); return b; };
const positiveInt = (name, v) => {
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`${name} must be a positive integer, got ${v}`);
  return v;
};

// ---------------------------------------------------------------- PNG

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** One PNG chunk: length, type, data, CRC32(type + data). */
function pngChunk(type, data) {
  const typeAndData = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  return Buffer.concat([u32(data.length), typeAndData, u32(crc32(typeAndData))]);
}

/**
 * An 8-bit truecolour PNG from its filtered scanlines (each row: a filter-type byte, then 3 bytes a pixel).
 * `rle`: rows that are runs of one byte, which zlib's Z_RLE strategy compresses as well as the default, but faster.
 */
function encodePng(width, height, raw, rle = false) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type: truecolour RGB; compression, filter and interlace methods stay 0
  const idat = deflateSync(raw, rle ? { strategy: zlibConstants.Z_RLE } : {});
  return Buffer.concat([PNG_SIGNATURE, pngChunk('IHDR', ihdr), pngChunk('IDAT', idat), pngChunk('IEND', Buffer.alloc(0))]);
}

/**
 * A valid 8-bit truecolour PNG filled with one colour.
 * @param {number} width @param {number} height @param {[number, number, number]} [rgb]
 * @returns {Buffer}
 */
export function png(width, height, rgb = [128, 128, 128]) {
  positiveInt('width', width);
  positiveInt('height', height);
  const row = Buffer.alloc(1 + width * 3); // leading filter byte 0 (None)
  for (let x = 0; x < width; x++) for (let c = 0; c < 3; c++) row[1 + x * 3 + c] = (rgb[c] ?? 0) & 0xff;
  const raw = Buffer.alloc(row.length * height);
  for (let y = 0; y < height; y++) row.copy(raw, y * row.length);
  return encodePng(width, height, raw);
}

/**
 * A PNG of a soft diagonal gradient around `rgb` (each channel moves up to 62 levels away from it, towards the
 * middle of the range, so nothing clips). Cheap at any size: the first row is stored plainly and every other row
 * with PNG's "Up" filter, whose residuals are one repeated byte: a 2048x2048 image is ~66 KiB, made in ~30 ms.
 * @param {number} width @param {number} height @param {[number, number, number]} [rgb]
 * @returns {Buffer}
 */
export function gradientPng(width, height, rgb = [128, 128, 128]) {
  positiveInt('width', width);
  positiveInt('height', height);
  const base = [0, 1, 2].map((c) => (rgb[c] ?? 0) & 0xff);
  const dir = base.map((v) => (v < 128 ? 1 : -1));
  const stride = 1 + width * 3;
  const raw = Buffer.alloc(stride * height);
  for (let x = 0; x < width; x++) { // row 0, filter None
    const dx = Math.floor((x * 32) / width);
    for (let c = 0; c < 3; c++) raw[1 + x * 3 + c] = base[c] + dir[c] * dx;
  }
  for (let y = 1; y < height; y++) { // filter Up: this row minus the row above, the same step for every pixel
    const step = Math.floor((y * 32) / height) - Math.floor(((y - 1) * 32) / height); // 0 or 1
    const at = y * stride;
    raw[at] = 2;
    if (step) for (let x = 0; x < width; x++) for (let c = 0; c < 3; c++) raw[at + 1 + x * 3 + c] = dir[c] & 0xff;
  }
  return encodePng(width, height, raw, true);
}

/**
 * A PNG from raw RGB pixels (row-major, 3 bytes a pixel).
 * @param {number} width @param {number} height @param {Uint8Array} pixels
 * @returns {Buffer}
 */
export function rgbPng(width, height, pixels) {
  positiveInt('width', width);
  positiveInt('height', height);
  if (pixels.length !== width * height * 3) throw new RangeError(`expected ${width * height * 3} bytes of pixels, got ${pixels.length}`);
  const stride = 1 + width * 3;
  const raw = Buffer.alloc(stride * height); // filter byte 0 (None) on every row
  for (let y = 0; y < height; y++) raw.set(pixels.subarray(y * width * 3, (y + 1) * width * 3), y * stride + 1);
  return encodePng(width, height, raw);
}

/**
 * The width and height in a PNG's IHDR, or null when `bytes` does not start like a PNG.
 * @param {Uint8Array} bytes @returns {{ width: number, height: number } | null}
 */
export function pngSize(bytes) {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length < 24 || !b.subarray(0, 8).equals(PNG_SIGNATURE) || b.toString('latin1', 12, 16) !== 'IHDR') return null;
  const width = b.readUInt32BE(16), height = b.readUInt32BE(20);
  return width && height ? { width, height } : null;
}

// ---------------------------------------------------------------- JPEG

/**
 * A baseline JPEG (JFIF, 8-bit YCbCr 4:4:4, one interleaved scan) of exactly width x height whose every 8x8 block is
 * one flat colour: only DC coefficients are coded (each block's AC part is a lone EOB), with a quantisation table
 * of ones and two tiny canonical Huffman tables (DC categories 0–11 as 4-bit codes; AC: EOB only, as '00'). Any
 * conforming decoder reads it. `colour(bx, by)` gives the RGB of block (bx, by).
 */
function encodeJpeg(width, height, colour) {
  positiveInt('width', width);
  positiveInt('height', height);
  if (width > 65535 || height > 65535) throw new RangeError('JPEG sides are at most 65535');
  const segment = (marker, ...parts) => { const body = Buffer.concat(parts); return Buffer.concat([u16(0xff00 | marker), u16(body.length + 2), body]); };
  const app0 = segment(0xe0, Buffer.from('JFIF\0', 'latin1'), Buffer.from([1, 1, 0]), u16(1), u16(1), Buffer.from([0, 0]));
  const dqt = segment(0xdb, Buffer.from([0]), Buffer.alloc(64, 1));
  const sof0 = segment(0xc0, Buffer.from([8]), u16(height), u16(width), Buffer.from([3, 1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0]));
  const dcBits = Buffer.alloc(16); dcBits[3] = 12; // twelve 4-bit codes: 0000 … 1011
  const acBits = Buffer.alloc(16); acBits[1] = 1; // one 2-bit code, 00, for EOB
  const dht = segment(0xc4, Buffer.from([0x00]), dcBits, Buffer.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]), Buffer.from([0x10]), acBits, Buffer.from([0x00]));
  const sos = segment(0xda, Buffer.from([3, 1, 0x00, 2, 0x00, 3, 0x00, 0, 63, 0]));

  const bw = Math.ceil(width / 8), bh = Math.ceil(height / 8);
  const out = Buffer.alloc(bw * bh * 3 * 4 + 16); // at most 4+11+2 bits a block and component, plus stuffing
  let at = 0, acc = 0, n = 0;
  const put = (value, bits) => {
    for (let i = bits - 1; i >= 0; i--) {
      acc = (acc << 1) | ((value >>> i) & 1);
      if (++n === 8) { out[at++] = acc; if (acc === 0xff) out[at++] = 0; acc = 0; n = 0; }
    }
  };
  const clamp = (v) => Math.max(0, Math.min(255, v));
  const pred = [0, 0, 0];
  for (let by = 0; by < bh; by++) {
    for (let bx = 0; bx < bw; bx++) {
      const [r, g, b] = colour(bx, by);
      const ycc = [0.299 * r + 0.587 * g + 0.114 * b, -0.168736 * r - 0.331264 * g + 0.5 * b + 128, 0.5 * r - 0.418688 * g - 0.081312 * b + 128];
      for (let c = 0; c < 3; c++) {
        const dc = 8 * (Math.round(clamp(ycc[c])) - 128); // the DCT of a flat block: 8 x the level-shifted value
        const diff = dc - pred[c];
        pred[c] = dc;
        const size = diff === 0 ? 0 : 32 - Math.clz32(Math.abs(diff));
        put(size, 4);
        if (size) put(diff < 0 ? diff + (1 << size) - 1 : diff, size);
        put(0, 2); // EOB
      }
    }
  }
  if (n) put(0xff, 8 - n); // pad with 1 bits
  return Buffer.concat([u16(0xffd8), app0, dqt, sof0, dht, sos, out.subarray(0, at), u16(0xffd9)]);
}

/**
 * A JPEG of a soft diagonal gradient around `rgb`, in 8x8 blocks (as gradientPng, blockwise).
 * @param {number} width @param {number} height @param {[number, number, number]} [rgb] @returns {Buffer}
 */
export function gradientJpeg(width, height, rgb = [128, 128, 128]) {
  const base = [0, 1, 2].map((c) => (rgb[c] ?? 0) & 0xff);
  const dir = base.map((v) => (v < 128 ? 1 : -1));
  return encodeJpeg(width, height, (bx, by) => {
    const d = Math.floor((bx * 8 * 32) / width) + Math.floor((by * 8 * 32) / height);
    return base.map((v, c) => v + dir[c] * d);
  });
}

/**
 * The width and height of a PNG, a JPEG (its first SOFn) or a WebP (VP8 / VP8L / VP8X), or null.
 * @param {Uint8Array} bytes @returns {{ width: number, height: number } | null}
 */
export function imageSize(bytes) {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const png = pngSize(b);
  if (png) return png;
  if (b.length > 4 && b[0] === 0xff && b[1] === 0xd8) {
    for (let p = 2; p + 9 < b.length;) {
      if (b[p] !== 0xff) return null;
      const m = b[p + 1];
      if (m === 0xff) { p++; continue; }
      if (m === 0xd8 || m === 0x01 || (m >= 0xd0 && m <= 0xd7)) { p += 2; continue; }
      if (m === 0xd9 || m === 0xda) return null;
      if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) {
        const height = b.readUInt16BE(p + 5), width = b.readUInt16BE(p + 7);
        return width && height ? { width, height } : null;
      }
      p += 2 + b.readUInt16BE(p + 2);
    }
    return null;
  }
  if (b.length >= 30 && b.toString('latin1', 0, 4) === 'RIFF' && b.toString('latin1', 8, 12) === 'WEBP') {
    const kind = b.toString('latin1', 12, 16);
    if (kind === 'VP8X') return { width: 1 + b.readUIntLE(24, 3), height: 1 + b.readUIntLE(27, 3) };
    if (kind === 'VP8L' && b[20] === 0x2f) {
      const v = b.readUInt32LE(21);
      return { width: 1 + (v & 0x3fff), height: 1 + ((v >>> 14) & 0x3fff) };
    }
    if (kind === 'VP8 ' && b[23] === 0x9d && b[24] === 0x01 && b[25] === 0x2a) {
      return { width: b.readUInt16LE(26) & 0x3fff, height: b.readUInt16LE(28) & 0x3fff };
    }
  }
  return null;
}

// ---------------------------------------------------------------- MP4 (ISO-BMFF)

/** A box: 32-bit size + 4-char type + payload. */
function box(type, ...parts) {
  const body = Buffer.concat(parts);
  return Buffer.concat([u32(8 + body.length), Buffer.from(type, 'latin1'), body]);
}
/** A full box: box with version (8 bits) and flags (24 bits). */
const fullBox = (type, version, flags, ...parts) => box(type, u32(((version & 0xff) << 24) | (flags & 0xffffff)), ...parts);
const MATRIX = Buffer.concat([0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000].map(u32));

/**
 * The fixture's NAL units: its first SPS and PPS, and each frame's IDR slice as an MP4 sample (4-byte length
 * prefix + NAL). x264's SEI (its version and options, type 6) is dropped: decoders do not need it.
 */
const H264 = (() => {
  const b = readFileSync(new URL('./fixtures/h264-64x64.h264', import.meta.url));
  const nals = [];
  for (let i = 0, start = -1; i <= b.length; i++) { // split at 00 00 01 start codes
    const atCode = i + 3 <= b.length && b[i] === 0 && b[i + 1] === 0 && b[i + 2] === 1;
    if (!atCode && i < b.length) continue;
    if (start >= 0) {
      let end = i;
      while (end > start && b[end - 1] === 0) end--; // the leading zero of a 4-byte start code (or trailing zeros)
      nals.push(b.subarray(start, end));
    }
    start = i + 3;
    i += 2;
  }
  const sps = nals.find((n) => (n[0] & 0x1f) === 7), pps = nals.find((n) => (n[0] & 0x1f) === 8);
  const slices = nals.filter((n) => (n[0] & 0x1f) === 5);
  // An even count keeps idr_pic_id alternating across the loop (consecutive IDRs must differ in it).
  if (!sps || !pps || !slices.length || slices.length % 2) throw new Error('fixtures/h264-64x64.h264: unexpected NAL units');
  return { sps, pps, width: 64, height: 64, samples: slices.map((n) => Buffer.concat([u32(n.length), n])) };
})();

/** `frames` decodable samples: the fixture's frames, looped. */
const videoSamples = (frames) => Array.from({ length: frames }, (_, i) => H264.samples[i % H264.samples.length]);

/** avc1 sample entry (the fixture's 64x64 picture) with an avcC holding its real SPS/PPS. */
function avc1() {
  const { sps, pps, width, height } = H264;
  const avcC = box('avcC', Buffer.from([1, sps[1], sps[2], sps[3], 0xff, 0xe1]), u16(sps.length), sps,
    u8(1), u16(pps.length), pps);
  return box('avc1', Buffer.alloc(6), u16(1), Buffer.alloc(16), u16(width), u16(height),
    u32(0x00480000), u32(0x00480000), u32(0), u16(1), Buffer.alloc(32), u16(0x18), u16(0xffff), avcC);
}

/**
 * A decodable MP4 (ftyp, moov with one H.264 video track, mdat). mvhd duration is round(seconds * 1000) at
 * timescale 1000; the track has round(seconds * fps) samples, the fixture's 64x64 IDR frames looped (all sync
 * samples, so no stss), with their sizes in stsz. width/height are the presentation size in tkhd.
 * @param {{ seconds: number, fps?: number, width?: number, height?: number }} opts
 * @returns {Buffer}
 */
export function mp4({ seconds, fps = 16, width = 64, height = 64 } = /** @type {any} */ ({})) {
  if (!(typeof seconds === 'number' && seconds > 0 && Number.isFinite(seconds))) throw new RangeError(`bad seconds ${seconds}`);
  if (!(typeof fps === 'number' && fps > 0 && Number.isFinite(fps))) throw new RangeError(`bad fps ${fps}`);
  positiveInt('width', width);
  positiveInt('height', height);
  const frames = Math.max(1, Math.round(seconds * fps));
  const durationMs = Math.round(seconds * 1000);
  // Integer fps: media timescale = fps, one tick per frame. Fractional fps (e.g. 23.976): millisecond-ish ticks.
  const [timescale, delta] = Number.isInteger(fps) ? [fps, 1] : [Math.round(fps * 1000), 1000];
  const samples = videoSamples(frames);

  const ftyp = box('ftyp', Buffer.from('isom'), u32(0x200), Buffer.from('isomiso2avc1mp42'));
  const moov = (chunkOffset) => box('moov',
    fullBox('mvhd', 0, 0, u32(0), u32(0), u32(1000), u32(durationMs), u32(0x00010000), u16(0x0100),
      Buffer.alloc(10), MATRIX, Buffer.alloc(24), u32(2)),
    box('trak',
      fullBox('tkhd', 0, 3, u32(0), u32(0), u32(1), u32(0), u32(durationMs), Buffer.alloc(8), u16(0), u16(0),
        u16(0), u16(0), MATRIX, u32(width * 65536), u32(height * 65536)),
      box('mdia',
        fullBox('mdhd', 0, 0, u32(0), u32(0), u32(timescale), u32(frames * delta), u16(0x55c4), u16(0)), // 'und'
        fullBox('hdlr', 0, 0, u32(0), Buffer.from('vide'), Buffer.alloc(12), Buffer.from('VideoHandler\0')),
        box('minf',
          fullBox('vmhd', 0, 1, Buffer.alloc(8)),
          box('dinf', fullBox('dref', 0, 0, u32(1), fullBox('url ', 0, 1))),
          box('stbl',
            fullBox('stsd', 0, 0, u32(1), avc1()),
            fullBox('stts', 0, 0, u32(1), u32(frames), u32(delta)),
            fullBox('stsc', 0, 0, u32(1), u32(1), u32(frames), u32(1)),
            fullBox('stsz', 0, 0, u32(0), u32(frames), Buffer.concat(samples.map((x) => u32(x.length)))),
            fullBox('stco', 0, 0, u32(1), u32(chunkOffset)))))));
  const moovLength = moov(0).length; // offsets are fixed-width, so the length does not depend on the value
  const mdat = box('mdat', Buffer.concat(samples));
  return Buffer.concat([ftyp, moov(ftyp.length + moovLength + 8), mdat]);
}

/** Find a child box of `type` between start and end. @returns {{start: number, end: number} | null} payload span */
function findBox(b, start, end, type) {
  let p = start;
  while (p + 8 <= end) {
    let size = b.readUInt32BE(p), header = 8;
    const t = b.toString('latin1', p + 4, p + 8);
    if (size === 1) {
      if (p + 16 > end) return null;
      size = Number(b.readBigUInt64BE(p + 8));
      header = 16;
    } else if (size === 0) size = end - p; // box extends to the end of its container
    if (size < header || p + size > end) return null;
    if (t === type) return { start: p + header, end: p + size };
    p += size;
  }
  return null;
}

/**
 * Movie duration in ms from moov/mvhd (versions 0 and 1), or null if it cannot be found.
 * @param {Uint8Array | ArrayBuffer} input @returns {number | null}
 */
export function mp4DurationMs(input) {
  const b = input instanceof ArrayBuffer ? Buffer.from(input)
    : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  const moov = findBox(b, 0, b.length, 'moov');
  const mvhd = moov && findBox(b, moov.start, moov.end, 'mvhd');
  if (!mvhd) return null;
  const v = b[mvhd.start];
  let timescale, duration;
  if (v === 0 && mvhd.start + 20 <= mvhd.end) {
    timescale = b.readUInt32BE(mvhd.start + 12);
    duration = b.readUInt32BE(mvhd.start + 16);
  } else if (v === 1 && mvhd.start + 32 <= mvhd.end) {
    timescale = b.readUInt32BE(mvhd.start + 20);
    duration = Number(b.readBigUInt64BE(mvhd.start + 24));
  } else return null;
  return timescale ? Math.round((duration * 1000) / timescale) : null;
}

/**
 * Pads a PNG (with a private ancillary chunk before IEND) or an MP4 (with a trailing `free` box) to about `size`
 * bytes of incompressible filler; both stay valid files of their kind.
 * @param {Buffer} file @param {number} size @returns {Buffer}
 */
export function padded(file, size) {
  const isPng = file.subarray(0, 8).equals(PNG_SIGNATURE);
  const extra = Math.max(0, size - file.length - 12);
  // A random 64 KiB block repeated: not compressible by anything on the path, and quick to make at 100+ MiB.
  const filler = Buffer.alloc(extra).fill(randomFillSync(Buffer.alloc(64 * 1024)));
  if (isPng) {
    const iend = file.length - 12;
    return Buffer.concat([file.subarray(0, iend), pngChunk('paDd', filler), file.subarray(iend)]);
  }
  return Buffer.concat([file, box('free', filler)]);
}

/**
 * A decodable fragmented MP4 (as from ffmpeg -movflags frag_keyframe+empty_moov): ftyp; moov with mvhd
 * duration 0 and one H.264 video track whose sample tables are empty, then mvex with an optional mehd (the
 * fragments' duration at the mvhd timescale 1000) and trex; an optional sidx; then `fragments` x (moof + mdat).
 * Each moof has mfhd and a traf with tfhd (default sample duration), tfdt and trun (per-sample durations and sizes).
 * The track has round(seconds * fps) samples (the fixture's 64x64 IDR frames looped, as in mp4()), one tick each
 * at timescale fps (integer fps). width/height are the presentation size in tkhd.
 * @param {{ seconds: number, fps?: number, width?: number, height?: number, mehd?: boolean, fragments?: number,
 *   sidx?: boolean }} opts
 * @returns {Buffer}
 */
export function fmp4({ seconds, fps = 16, width = 64, height = 64, mehd = true, fragments = 4, sidx = false } =
  /** @type {any} */ ({})) {
  if (!(typeof seconds === 'number' && seconds > 0 && Number.isFinite(seconds))) throw new RangeError(`bad seconds ${seconds}`);
  if (!(typeof fps === 'number' && fps > 0 && Number.isFinite(fps))) throw new RangeError(`bad fps ${fps}`);
  positiveInt('width', width);
  positiveInt('height', height);
  positiveInt('fragments', fragments);
  const frames = Math.max(1, Math.round(seconds * fps));
  const [timescale, delta] = Number.isInteger(fps) ? [fps, 1] : [Math.round(fps * 1000), 1000];
  const durationMs = Math.round((frames * delta * 1000) / timescale);
  const samples = videoSamples(frames);
  const SYNC = 0x02000000; // sample flags: depends on no other sample, a sync sample (every frame is an IDR)

  const ftyp = box('ftyp', Buffer.from('iso5'), u32(0x200), Buffer.from('iso5iso6avc1mp41'));
  const moov = box('moov',
    fullBox('mvhd', 0, 0, u32(0), u32(0), u32(1000), u32(0), u32(0x00010000), u16(0x0100),
      Buffer.alloc(10), MATRIX, Buffer.alloc(24), u32(2)),
    box('trak',
      fullBox('tkhd', 0, 3, u32(0), u32(0), u32(1), u32(0), u32(0), Buffer.alloc(8), u16(0), u16(0),
        u16(0), u16(0), MATRIX, u32(width * 65536), u32(height * 65536)),
      box('mdia',
        fullBox('mdhd', 0, 0, u32(0), u32(0), u32(timescale), u32(0), u16(0x55c4), u16(0)), // 'und'
        fullBox('hdlr', 0, 0, u32(0), Buffer.from('vide'), Buffer.alloc(12), Buffer.from('VideoHandler\0')),
        box('minf',
          fullBox('vmhd', 0, 1, Buffer.alloc(8)),
          box('dinf', fullBox('dref', 0, 0, u32(1), fullBox('url ', 0, 1))),
          box('stbl',
            fullBox('stsd', 0, 0, u32(1), avc1()),
            fullBox('stts', 0, 0, u32(0)),
            fullBox('stsc', 0, 0, u32(0)),
            fullBox('stsz', 0, 0, u32(0), u32(0)),
            fullBox('stco', 0, 0, u32(0)))))),
    box('mvex',
      ...(mehd ? [fullBox('mehd', 0, 0, u32(durationMs))] : []),
      fullBox('trex', 0, 0, u32(1), u32(1), u32(delta), u32(samples[0].length), u32(SYNC))));

  // Samples split as evenly as possible, every fragment starting with a sync sample.
  const count = Math.min(fragments, frames);
  const sizes = Array.from({ length: count },
    (_, i) => Math.floor(((i + 1) * frames) / count) - Math.floor((i * frames) / count));
  let decodeTime = 0, next = 0;
  const pieces = sizes.map((n, i) => {
    const start = decodeTime;
    decodeTime += n * delta;
    const mine = samples.slice(next, next += n);
    const moof = (dataOffset) => box('moof',
      fullBox('mfhd', 0, 0, u32(i + 1)),
      box('traf',
        // default-base-is-moof, default sample duration, size and flags
        fullBox('tfhd', 0, 0x020000 | 0x08 | 0x10 | 0x20, u32(1), u32(delta), u32(mine[0].length), u32(SYNC)),
        fullBox('tfdt', 1, 0, u32(Math.floor(start / 2 ** 32)), u32(start)),
        // data offset, first sample flags, per-sample duration and size
        fullBox('trun', 0, 0x001 | 0x004 | 0x100 | 0x200, u32(n), u32(dataOffset), u32(SYNC),
          Buffer.concat(mine.flatMap((x) => [u32(delta), u32(x.length)])))));
    const moofLength = moof(0).length; // fixed-width fields: the length does not depend on the offset
    return Buffer.concat([moof(moofLength + 8), box('mdat', Buffer.concat(mine))]);
  });

  const index = sidx
    ? [fullBox('sidx', 0, 0, u32(1), u32(timescale), u32(0), u32(0), u16(0), u16(count),
      ...pieces.map((piece, i) => Buffer.concat([u32(piece.length), u32(sizes[i] * delta), u32(0x90000000)])))]
    : [];
  return Buffer.concat([ftyp, moov, ...index, ...pieces]);
}
