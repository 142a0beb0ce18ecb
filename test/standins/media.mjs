// Tiny, dependency-free media fixtures for the stand-ins: real PNG files and structurally valid MP4 files.
// The MP4's H.264 parameter sets are real (so probes report codec and size) but the frame payloads are dummy
// bytes that do not decode. Only node: builtins.
import { randomFillSync } from 'node:crypto';
import { deflateSync } from 'node:zlib';

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
 * A valid 8-bit truecolour PNG filled with one colour.
 * @param {number} width @param {number} height @param {[number, number, number]} [rgb]
 * @returns {Buffer}
 */
export function png(width, height, rgb = [128, 128, 128]) {
  positiveInt('width', width);
  positiveInt('height', height);
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type: truecolour RGB; compression, filter and interlace methods stay 0
  const row = Buffer.alloc(1 + width * 3); // leading filter byte 0 (None)
  for (let x = 0; x < width; x++) for (let c = 0; c < 3; c++) row[1 + x * 3 + c] = (rgb[c] ?? 0) & 0xff;
  const raw = Buffer.concat(Array.from({ length: height }, () => row));
  return Buffer.concat([PNG_SIGNATURE, pngChunk('IHDR', ihdr), pngChunk('IDAT', deflateSync(raw)),
    pngChunk('IEND', Buffer.alloc(0))]);
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

/** Minimal H.264 bit writer for the SPS/PPS (Exp-Golomb, RBSP trailing bits, emulation prevention). */
function nal(header, write) {
  const bits = [];
  const u = (n, v) => { for (let i = n - 1; i >= 0; i--) bits.push((v >>> i) & 1); };
  const ue = (v) => { const len = Math.floor(Math.log2(v + 1)); u(len, 0); u(len + 1, v + 1); };
  write(u, ue);
  bits.push(1);
  while (bits.length % 8) bits.push(0);
  const out = [header];
  let zeros = 0;
  for (let i = 0; i < bits.length; i += 8) {
    const byte = bits.slice(i, i + 8).reduce((a, b) => (a << 1) | b, 0);
    if (zeros >= 2 && byte <= 3) { out.push(3); zeros = 0; }
    out.push(byte);
    zeros = byte === 0 ? zeros + 1 : 0;
  }
  return Buffer.from(out);
}

/** avc1 sample entry with a real Baseline SPS/PPS for width x height (frames themselves are dummies). */
function avc1(width, height) {
  const mbw = Math.ceil(width / 16), mbh = Math.ceil(height / 16);
  const cropR = Math.floor((mbw * 16 - width) / 2), cropB = Math.floor((mbh * 16 - height) / 2);
  const sps = nal(0x67, (u, ue) => {
    u(8, 66); u(8, 0xc0); u(8, 30); // profile Baseline (constrained), level 3.0
    ue(0); ue(0); ue(2); ue(1); u(1, 0); // sps id, log2_max_frame_num-4, poc type 2, 1 ref frame, no gaps
    ue(mbw - 1); ue(mbh - 1); u(1, 1); u(1, 1); // size in macroblocks, frame_mbs_only, direct_8x8
    if (cropR || cropB) { u(1, 1); ue(0); ue(cropR); ue(0); ue(cropB); } else u(1, 0);
    u(1, 0); // no VUI
  });
  const pps = nal(0x68, (u, ue) => {
    ue(0); ue(0); u(1, 0); u(1, 0); ue(0); ue(0); ue(0); u(1, 0); u(2, 0); // ids, CAVLC, 1 slice group, refs
    ue(0); ue(0); ue(0); u(1, 1); u(1, 0); u(1, 0); // qp/qs/chroma offsets (se(0) == ue(0)), deblocking ctl
  });
  const avcC = box('avcC', Buffer.from([1, sps[1], sps[2], sps[3], 0xff, 0xe1]), u16(sps.length), sps,
    u8(1), u16(pps.length), pps);
  return box('avc1', Buffer.alloc(6), u16(1), Buffer.alloc(16), u16(width), u16(height),
    u32(0x00480000), u32(0x00480000), u32(0), u16(1), Buffer.alloc(32), u16(0x18), u16(0xffff), avcC);
}

/**
 * A structurally valid MP4 (ftyp, moov with one H.264 video track, mdat). mvhd duration is
 * round(seconds * 1000) at timescale 1000; the track has round(seconds * fps) samples of a few dummy bytes.
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
  const sample = Buffer.from([0, 0, 0, 4, 0x65, 0x88, 0x84, 0x00]); // length-prefixed "IDR slice" NAL (dummy)

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
            fullBox('stsd', 0, 0, u32(1), avc1(width, height)),
            fullBox('stts', 0, 0, u32(1), u32(frames), u32(delta)),
            fullBox('stsc', 0, 0, u32(1), u32(1), u32(frames), u32(1)),
            fullBox('stsz', 0, 0, u32(sample.length), u32(frames)),
            fullBox('stco', 0, 0, u32(1), u32(chunkOffset)))))));
  const moovLength = moov(0).length; // offsets are fixed-width, so the length does not depend on the value
  const mdat = box('mdat', Buffer.concat(Array.from({ length: frames }, () => sample)));
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
 * A structurally valid fragmented MP4 (as from ffmpeg -movflags frag_keyframe+empty_moov): ftyp; moov with mvhd
 * duration 0 and one H.264 video track whose sample tables are empty, then mvex with an optional mehd (the
 * fragments' duration at the mvhd timescale 1000) and trex; an optional sidx; then `fragments` x (moof + mdat).
 * Each moof has mfhd and a traf with tfhd (default sample duration), tfdt and trun (per-sample durations and sizes).
 * The track has round(seconds * fps) samples of a few dummy bytes, one tick each at timescale fps (integer fps).
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
  const sample = Buffer.from([0, 0, 0, 4, 0x65, 0x88, 0x84, 0x00]); // length-prefixed "IDR slice" NAL (dummy)
  const SYNC = 0x02000000, NON_SYNC = 0x01010000; // sample flags: depends on no other / on others, non-sync

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
            fullBox('stsd', 0, 0, u32(1), avc1(width, height)),
            fullBox('stts', 0, 0, u32(0)),
            fullBox('stsc', 0, 0, u32(0)),
            fullBox('stsz', 0, 0, u32(0), u32(0)),
            fullBox('stco', 0, 0, u32(0)))))),
    box('mvex',
      ...(mehd ? [fullBox('mehd', 0, 0, u32(durationMs))] : []),
      fullBox('trex', 0, 0, u32(1), u32(1), u32(delta), u32(sample.length), u32(NON_SYNC))));

  // Samples split as evenly as possible, every fragment starting with a sync sample.
  const count = Math.min(fragments, frames);
  const sizes = Array.from({ length: count },
    (_, i) => Math.floor(((i + 1) * frames) / count) - Math.floor((i * frames) / count));
  let decodeTime = 0;
  const pieces = sizes.map((n, i) => {
    const start = decodeTime;
    decodeTime += n * delta;
    const moof = (dataOffset) => box('moof',
      fullBox('mfhd', 0, 0, u32(i + 1)),
      box('traf',
        // default-base-is-moof, default sample duration, size and flags
        fullBox('tfhd', 0, 0x020000 | 0x08 | 0x10 | 0x20, u32(1), u32(delta), u32(sample.length), u32(NON_SYNC)),
        fullBox('tfdt', 1, 0, u32(Math.floor(start / 2 ** 32)), u32(start)),
        // data offset, first sample flags, per-sample duration and size
        fullBox('trun', 0, 0x001 | 0x004 | 0x100 | 0x200, u32(n), u32(dataOffset), u32(SYNC),
          ...Array.from({ length: n }, () => Buffer.concat([u32(delta), u32(sample.length)])))));
    const moofLength = moof(0).length; // fixed-width fields: the length does not depend on the offset
    return Buffer.concat([moof(moofLength + 8), box('mdat', ...Array.from({ length: n }, () => sample))]);
  });

  const index = sidx
    ? [fullBox('sidx', 0, 0, u32(1), u32(timescale), u32(0), u32(0), u16(0), u16(count),
      ...pieces.map((piece, i) => Buffer.concat([u32(piece.length), u32(sizes[i] * delta), u32(0x90000000)])))]
    : [];
  return Buffer.concat([ftyp, moov, ...index, ...pieces]);
}
