// Reads an MP4's duration with a few small range reads, so video is billed for what was delivered. An ordinary
// file has it in moov/mvhd. A fragmented one (moov has mvex) has it in mvex/mehd, else (when mvhd says 0) in a
// top-level sidx, else only in its fragments: each track's samples in moov (its mdhd duration) plus the sample
// durations of every top-level moof; the longest track wins. The picture size comes from the same moov: the first
// video track's (mdia/hdlr 'vide') tkhd width x height — its presentation size, turned by a 90°/270° matrix — else
// its first visual sample entry's (stsd); no extra read.

/** Reads `length` bytes at `offset` (fewer at the end of the file); null when unreadable. */
export type ReadAt = (offset: number, length: number) => Promise<Uint8Array | null>;

const MAX_MOOV = 8 * 1024 * 1024;
const MAX_FRAGMENT = 1024 * 1024; // one moof or sidx
const MAX_BOXES = 1024; // top-level boxes walked; past that the duration is unknown
const WINDOW = 4096; // bytes fetched per small read, so a moof and the mdat header after it usually cost one read

const u32 = (b: Uint8Array, i: number) => ((b[i]! << 24) >>> 0) + (b[i + 1]! << 16) + (b[i + 2]! << 8) + b[i + 3]!;
const u64 = (b: Uint8Array, i: number) => u32(b, i) * 2 ** 32 + u32(b, i + 4);
const type = (b: Uint8Array, i: number) => String.fromCharCode(b[i]!, b[i + 1]!, b[i + 2]!, b[i + 3]!);

/** A box read into memory: its payload is b[start, end). */
interface Box { b: Uint8Array; start: number; end: number }
interface Track { scale: number; trexDuration: number; ticks: number }
interface Movie { mvhdMs: number; knownMs: number; tracks: Map<number, Track>; size: Size | null }
/** A picture size in pixels. */
export interface Size { width: number; height: number }
/** What a probe reads: the duration (null when unknown) and the video track's picture size (null when none). */
export interface Mp4Info { durationMs: number | null; size: Size | null }
class Malformed extends Error {}

/** The 4- or 8-byte number at payload offset `at`; throws Malformed past the end of the box. */
function num(box: Box, at: number, bytes: 4 | 8): number {
  const i = box.start + at;
  if (i + bytes > box.end) throw new Malformed();
  return bytes === 4 ? u32(box.b, i) : u64(box.b, i);
}
const wide = (box: Box) => num(box, 0, 4) >>> 24 === 1; // full box version 1: 64-bit times
/** A header's duration field (32-bit, or 64-bit in version 1); all ones means unknown, read as 0. */
function duration(box: Box, at: number, atWide: number): number {
  const d = wide(box) ? num(box, atWide, 8) : num(box, at, 4);
  return d === (wide(box) ? 2 ** 64 : 2 ** 32 - 1) ? 0 : d;
}
const toMs = (ticks: number, scale: number) => (scale > 0 ? Math.round((ticks * 1000) / scale) : 0);

/** The children of `parent` of one type; stops at a malformed one. */
function children(parent: Box | undefined, kind: string): Box[] {
  const out: Box[] = [];
  for (let i = parent?.start ?? 0; parent && i + 8 <= parent.end; ) {
    let [size, header] = [u32(parent.b, i), 8];
    if (size === 1 && i + 16 <= parent.end) [size, header] = [u64(parent.b, i + 8), 16];
    else if (size === 0) size = parent.end - i; // runs to the end of its container
    if (size < header || i + size > parent.end) break;
    if (type(parent.b, i + 4) === kind) out.push({ b: parent.b, start: i + header, end: i + size });
    i += size;
  }
  return out;
}
const child = (parent: Box | undefined, kind: string) => children(parent, kind)[0];

/** Duration in milliseconds, or null when the file has none we can read (never throws for malformed bytes). */
export async function mp4DurationMs(read: ReadAt): Promise<number | null> {
  return (await mp4Info(read))?.durationMs ?? null;
}

/**
 * Duration and picture size in one probe (the same reads as the duration alone), or null when the file has no
 * movie box we can read. Never throws for malformed bytes; a failing reader's error is passed on.
 */
export async function mp4Info(read: ReadAt): Promise<Mp4Info | null> {
  let movie: Movie | undefined;
  try {
    const ms = await probe(windowed(read), (m) => (movie = m));
    return movie ? { durationMs: ms, size: movie.size } : null;
  } catch (e) {
    if (e instanceof Malformed) return movie ? { durationMs: null, size: movie.size } : null;
    throw e;
  }
}

async function probe(read: ReadAt, found: (m: Movie) => void): Promise<number | null> {
  let movie: Movie | undefined;
  let sidxMs = 0;
  for (let n = 0, offset = 0; ; n++) {
    const head = await read(offset, 16);
    if (!head || head.length === 0) break; // end of file
    if (n === MAX_BOXES || head.length < 8) return null;
    let [size, header] = [u32(head, 0), 8];
    if (size === 1) {
      if (head.length < 16) return null;
      [size, header] = [u64(head, 8), 16];
    }
    const kind = type(head, 4);
    const wanted = kind === 'moov' || kind === 'moof' || kind === 'sidx';
    if (size === 0 && !wanted) break; // the last box, running to the end of the file (e.g. an mdat)
    if (size < header) return null;
    if (wanted) {
      if (size > (kind === 'moov' ? MAX_MOOV : MAX_FRAGMENT)) return null;
      const b = await read(offset, size);
      if (!b || b.length < size) return null;
      const box: Box = { b, start: header, end: size };
      if (kind === 'moov') found((movie = readMoov(box)));
      else if (kind === 'sidx') sidxMs ||= readSidx(box);
      else if (movie) addFragment(box, movie.tracks);
      else return null; // a fragment before the movie box
      if (movie && movie.knownMs > 0) return movie.knownMs;
      if (movie && movie.mvhdMs === 0 && sidxMs > 0) return sidxMs;
    }
    offset += size;
  }
  if (!movie) return null;
  const ms = Math.max(movie.mvhdMs, ...[...movie.tracks.values()].map((t) => toMs(t.ticks, t.scale)));
  return ms > 0 ? ms : null;
}

/**
 * The movie's duration when its header alone settles it (mvhd's, or for a fragmented file mehd's), and each
 * track's timescale, trex default sample duration and the duration of its samples in moov (mdhd's).
 */
function readMoov(moov: Box): Movie {
  const mvhd = child(moov, 'mvhd');
  if (!mvhd) throw new Malformed();
  const scale = num(mvhd, wide(mvhd) ? 20 : 12, 4);
  const mvhdMs = toMs(duration(mvhd, 16, 24), scale);
  const mvex = child(moov, 'mvex');
  const mehd = child(mvex, 'mehd');
  const mehdMs = mehd ? toMs(duration(mehd, 4, 4), scale) : 0;
  const tracks = new Map<number, Track>();
  for (const trak of children(moov, 'trak')) {
    const tkhd = child(trak, 'tkhd');
    const mdhd = child(child(trak, 'mdia'), 'mdhd');
    if (!tkhd || !mdhd) continue;
    const id = num(tkhd, wide(tkhd) ? 20 : 12, 4);
    tracks.set(id, { scale: num(mdhd, wide(mdhd) ? 20 : 12, 4), trexDuration: 0, ticks: duration(mdhd, 16, 24) });
  }
  for (const trex of children(mvex, 'trex')) {
    const track = tracks.get(num(trex, 4, 4));
    if (track) track.trexDuration = num(trex, 12, 4);
  }
  // In a fragmented file mvhd covers only the samples in moov: the fragments may add to it.
  return { mvhdMs, knownMs: mvex ? mehdMs : mvhdMs, tracks, size: safeSize(moov) };
}

/** A short or odd track header costs the size, not the duration. */
function safeSize(moov: Box): Size | null {
  try {
    return videoSize(moov);
  } catch (e) {
    if (e instanceof Malformed) return null;
    throw e;
  }
}

/** 16.16 fixed point → whole pixels. */
const fixed = (v: number) => Math.round(v / 65536);

/**
 * The first video track's picture size: tkhd width/height (after the header, 8 reserved bytes, layer, alternate
 * group, volume, 2 reserved and the 36-byte matrix), swapped when the matrix turns it a quarter; else the first
 * stsd sample entry's 16-bit width/height. Null when no video track says.
 */
function videoSize(moov: Box): Size | null {
  for (const trak of children(moov, 'trak')) {
    const mdia = child(trak, 'mdia');
    const hdlr = child(mdia, 'hdlr');
    if (!hdlr || hdlr.start + 12 > hdlr.end || type(hdlr.b, hdlr.start + 8) !== 'vide') continue;
    const tkhd = child(trak, 'tkhd');
    if (tkhd) {
      const matrix = wide(tkhd) ? 52 : 40;
      const [a, b] = [num(tkhd, matrix, 4), num(tkhd, matrix + 4, 4)];
      const [w, h] = [fixed(num(tkhd, matrix + 36, 4)), fixed(num(tkhd, matrix + 40, 4))];
      if (w > 0 && h > 0) return a === 0 && b !== 0 ? { width: h, height: w } : { width: w, height: h };
    }
    const stsd = child(child(child(mdia, 'minf'), 'stbl'), 'stsd');
    // stsd: version/flags, entry count, then the first entry's box: size, type, 6 reserved, data reference index,
    // 16 bytes of pre-defined/reserved, width, height (16-bit each).
    if (stsd && stsd.start + 8 + 36 <= stsd.end) {
      const at = stsd.start + 8 + 32;
      const [w, h] = [(stsd.b[at]! << 8) | stsd.b[at + 1]!, (stsd.b[at + 2]! << 8) | stsd.b[at + 3]!];
      if (w > 0 && h > 0) return { width: w, height: h };
    }
  }
  return null;
}

/** The sum of a segment index's subsegment durations, in milliseconds. */
function readSidx(sidx: Box): number {
  const scale = num(sidx, 8, 4);
  const at = wide(sidx) ? 32 : 24; // after the earliest presentation time and first offset
  const count = num(sidx, at - 4, 4) & 0xffff;
  let sum = 0;
  for (let i = 0; i < count; i++) sum += num(sidx, at + i * 12 + 4, 4);
  return toMs(sum, scale);
}

/** Adds one moof's sample durations to its tracks (trun's own, else tfhd's default, else trex's). */
function addFragment(moof: Box, tracks: Map<number, Track>): void {
  for (const traf of children(moof, 'traf')) {
    const tfhd = child(traf, 'tfhd');
    if (!tfhd) throw new Malformed();
    const flags = num(tfhd, 0, 4);
    const track = tracks.get(num(tfhd, 4, 4));
    if (!track) continue; // not a track of the movie: nothing to measure it in
    const defaultAt = 8 + (flags & 0x01 ? 8 : 0) + (flags & 0x02 ? 4 : 0); // after base data offset, description index
    const defaultDuration = flags & 0x08 ? num(tfhd, defaultAt, 4) : track.trexDuration;
    for (const trun of children(traf, 'trun')) {
      const [f, count] = [num(trun, 0, 4), num(trun, 4, 4)];
      if (!(f & 0x100)) {
        track.ticks += count * defaultDuration;
        continue;
      }
      const first = 8 + (f & 0x001 ? 4 : 0) + (f & 0x004 ? 4 : 0); // after data offset, first sample flags
      const stride = 4 * [0x100, 0x200, 0x400, 0x800].filter((bit) => f & bit).length; // duration, size, flags, cto
      for (let i = 0; i < count; i++) track.ticks += num(trun, first + i * stride, 4); // bounded: throws past the box
    }
  }
}

/** A ReadAt that fetches at least WINDOW bytes at a time and answers reads inside the last window from memory. */
function windowed(read: ReadAt): ReadAt {
  let at = 0;
  let last: Uint8Array = new Uint8Array(0);
  return async (offset, length) => {
    if (offset >= at && offset + length <= at + last.length) return last.subarray(offset - at, offset - at + length);
    const got = await read(offset, Math.max(length, WINDOW));
    if (got) [at, last] = [offset, got];
    return got && got.subarray(0, length);
  };
}

/** A ReadAt over anything that answers HTTP Range requests (a 200 with the whole body is read up to what is needed). */
export function rangeReader(open: (range: string) => Promise<Response>): ReadAt {
  return async (offset, length) => {
    const res = await open(`bytes=${offset}-${offset + length - 1}`);
    if (res.status !== 206 && res.status !== 200) return null;
    const reader = res.body?.getReader();
    if (!reader) return null;
    const skip = res.status === 200 ? offset : 0;
    const out = new Uint8Array(length);
    let got = 0;
    let pos = 0;
    while (got < length) {
      const { done, value } = await reader.read();
      if (done) break;
      const start = Math.max(0, skip - pos);
      const chunk = value.subarray(start, start + (length - got));
      pos += value.length;
      if (start >= value.length) continue;
      out.set(chunk, got);
      got += chunk.length;
    }
    await reader.cancel().catch(() => {});
    return out.subarray(0, got);
  };
}
