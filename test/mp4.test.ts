// The MP4 duration probe (src/media/mp4.ts): ordinary files, fragmented files (mehd, sidx, summed fragments),
// malformed input and the work bound. Files are built here with a tiny box builder (media.mjs is node-only).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mp4DurationMs, rangeReader, type ReadAt } from '../src/media/mp4';

// ---------------------------------------------------------------- a tiny ISO-BMFF builder

type Bytes = Uint8Array;
const cat = (...parts: Bytes[]): Bytes => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) (out.set(p, at), (at += p.length));
  return out;
};
const u32 = (n: number): Bytes => new Uint8Array([n >>> 24, n >>> 16, n >>> 8, n].map((x) => x & 0xff));
const u64 = (n: number): Bytes => cat(u32(Math.floor(n / 2 ** 32)), u32(n % 2 ** 32));
const u16 = (n: number): Bytes => new Uint8Array([(n >>> 8) & 0xff, n & 0xff]);
const zeros = (n: number): Bytes => new Uint8Array(n);
const ascii = (s: string): Bytes => new Uint8Array([...s].map((c) => c.charCodeAt(0)));
const box = (type: string, ...parts: Bytes[]): Bytes => {
  const body = cat(...parts);
  return cat(u32(8 + body.length), ascii(type), body);
};
const full = (type: string, version: number, flags: number, ...parts: Bytes[]) =>
  box(type, u32(((version << 24) | flags) >>> 0), ...parts);

const ftyp = () => box('ftyp', ascii('iso5'), u32(0x200), ascii('iso5iso6mp41'));
const TAIL = zeros(80); // rate, volume, reserved, matrix, pre_defined, next_track_ID: not read
const mvhd = (duration: number, scale = 1000, version = 0) =>
  version === 1
    ? full('mvhd', 1, 0, u64(0), u64(0), u32(scale), u64(duration), TAIL)
    : full('mvhd', 0, 0, u32(0), u32(0), u32(scale), u32(duration), TAIL);
/** A track: tkhd (track_ID) and mdia/mdhd (timescale, duration of its samples in moov). */
const trak = (id: number, scale: number, duration = 0, version = 0) =>
  box('trak',
    version === 1
      ? full('tkhd', 1, 3, u64(0), u64(0), u32(id), u32(0), u64(duration), zeros(60))
      : full('tkhd', 0, 3, u32(0), u32(0), u32(id), u32(0), u32(duration), zeros(60)),
    box('mdia',
      version === 1
        ? full('mdhd', 1, 0, u64(0), u64(0), u32(scale), u64(duration), u16(0x55c4), u16(0))
        : full('mdhd', 0, 0, u32(0), u32(0), u32(scale), u32(duration), u16(0x55c4), u16(0)),
      full('hdlr', 0, 0, u32(0), ascii('vide'), zeros(12), ascii('v\0'))));
const mehd = (duration: number, version = 0) => full('mehd', version, 0, version === 1 ? u64(duration) : u32(duration));
const trex = (id: number, defaultDuration: number) =>
  full('trex', 0, 0, u32(id), u32(1), u32(defaultDuration), u32(0), u32(0));
const mvex = (...parts: Bytes[]) => box('mvex', ...parts);
const moov = (...parts: Bytes[]) => box('moov', ...parts);
const mdat = (n = 16) => box('mdat', zeros(n));

/** A traf: tfhd (optional base data offset and description index, then the default duration when given). */
function traf(id: number, opts: { durations?: number[]; count?: number; defaultDuration?: number; extras?: boolean }) {
  const { durations, defaultDuration, extras = false } = opts;
  const tfhdFlags = (extras ? 0x01 | 0x02 : 0) | (defaultDuration !== undefined ? 0x08 : 0) | 0x10 | 0x20;
  const tfhd = full('tfhd', 0, tfhdFlags, u32(id), ...(extras ? [u64(1234), u32(1)] : []),
    ...(defaultDuration !== undefined ? [u32(defaultDuration)] : []), u32(8), u32(0x01010000));
  const count = durations?.length ?? opts.count ?? 0;
  // With per-sample durations: data offset, first sample flags, then duration, size, flags and cto per sample.
  const trun = durations
    ? full('trun', 0, 0x001 | 0x004 | 0x100 | 0x200 | 0x400 | 0x800, u32(count), u32(0), u32(0x02000000),
      ...durations.map((d) => cat(u32(d), u32(8), u32(0x01010000), u32(0))))
    : full('trun', 0, 0x001 | 0x200, u32(count), u32(0), ...Array.from({ length: count }, () => u32(8)));
  return box('traf', tfhd, full('tfdt', 1, 0, u64(0)), trun);
}
const moof = (seq: number, ...trafs: Bytes[]) => box('moof', full('mfhd', 0, 0, u32(seq)), ...trafs);
/** A sidx (version 0 or 1) whose references have these subsegment durations. */
const sidx = (scale: number, durations: number[], version = 0) =>
  full('sidx', version, 0, u32(1), u32(scale), ...(version === 1 ? [u64(0), u64(0)] : [u32(0), u32(0)]), u16(0),
    u16(durations.length), ...durations.map((d) => cat(u32(100), u32(d), u32(0x90000000))));

/** A ReadAt over bytes in memory, counting reads. */
function reader(file: Bytes) {
  const r = Object.assign(
    async (offset: number, length: number) => {
      r.reads++;
      return offset >= file.length ? null : file.subarray(offset, offset + length);
    },
    { reads: 0 },
  );
  return r;
}
const probe = (file: Bytes) => mp4DurationMs(reader(file));

/** A fragmented file: empty moov (mvhd 0) for the given tracks, then each fragment as moof + mdat. */
const fragmented = (tracks: Bytes[], mvexParts: Bytes[], fragments: Bytes[][]) =>
  cat(ftyp(), moov(mvhd(0), ...tracks, mvex(...mvexParts)),
    ...fragments.flatMap((trafs, i) => [moof(i + 1, ...trafs), mdat()]));

// ---------------------------------------------------------------- ordinary files

describe('mp4DurationMs: ordinary files', () => {
  it('reads mvhd (version 0 and 1), with moov before or after mdat, with few reads', async () => {
    const r = reader(cat(ftyp(), moov(mvhd(5000), trak(1, 16, 80)), mdat(100_000)));
    expect(await mp4DurationMs(r)).toBe(5000);
    expect(r.reads).toBeLessThanOrEqual(2);
    expect(await probe(cat(ftyp(), moov(mvhd(90_000 * 7.5, 90_000, 1), trak(1, 90_000, 0, 1)), mdat()))).toBe(7500);
    expect(await probe(cat(ftyp(), mdat(10_000), moov(mvhd(2002, 1000), trak(1, 24_000))))).toBe(2002);
  });

  it('skips a box with a 64-bit size and stops at a last box that runs to the end of the file', async () => {
    const large = cat(u32(1), ascii('mdat'), u64(16 + 40), zeros(40));
    expect(await probe(cat(ftyp(), large, moov(mvhd(3000), trak(1, 16))))).toBe(3000);
    const toEnd = cat(u32(0), ascii('mdat'), zeros(40));
    const fragmentThenToEnd = cat(ftyp(), moov(mvhd(0), trak(1, 16), mvex(trex(1, 1))), moof(1, traf(1, { count: 5 })),
      toEnd);
    expect(await probe(fragmentThenToEnd)).toBe(313);
  });

  it('works through rangeReader, for 206 and 200 answers', async () => {
    const file = cat(ftyp(), moov(mvhd(0), trak(1, 16), mvex(trex(1, 1))), moof(1, traf(1, { count: 32 })), mdat(9000),
      moof(2, traf(1, { count: 16 })), mdat(9000));
    const partial = rangeReader(async (range) => {
      const [, from, to] = /bytes=(\d+)-(\d+)/.exec(range)!.map(Number) as [number, number, number];
      if (from >= file.length) return new Response(null, { status: 416 });
      return new Response(file.slice(from, to + 1), { status: 206 });
    });
    expect(await mp4DurationMs(partial)).toBe(3000);
    expect(await mp4DurationMs(rangeReader(async () => new Response(file.slice())))).toBe(3000);
  });
});

// ---------------------------------------------------------------- fragmented files

describe('mp4DurationMs: fragmented files', () => {
  const frags = [[traf(1, { durations: [1, 1, 1] })], [traf(1, { durations: [1, 1] })]];

  it('takes mehd (version 0 and 1, in the mvhd timescale) without reading the fragments', async () => {
    const v0 = reader(fragmented([trak(1, 16)], [mehd(4000), trex(1, 1)], frags));
    expect(await mp4DurationMs(v0)).toBe(4000);
    expect(v0.reads).toBeLessThanOrEqual(2);
    const v1 = fragmented([trak(1, 16)], [mehd(2 ** 32 + 500, 1), trex(1, 1)], frags); // needs all 64 bits
    expect(await probe(v1)).toBe(2 ** 32 + 500);
  });

  it('sums per-sample trun durations in the track (mdhd) timescale', async () => {
    const file = fragmented([trak(1, 24)], [trex(1, 99)],
      [[traf(1, { durations: [1, 2, 3, 6] })], [traf(1, { durations: [12] })], [traf(1, { durations: [24] })]]);
    expect(await probe(file)).toBe(2000);
  });

  it('uses tfhd default durations (after base data offset and description index), else trex defaults', async () => {
    const file = fragmented([trak(1, 1000)], [trex(1, 40)], [
      [traf(1, { count: 10, defaultDuration: 100, extras: true })], // 1000
      [traf(1, { count: 10, defaultDuration: 50 })], // 500
      [traf(1, { count: 10 })], // trex: 400
    ]);
    expect(await probe(file)).toBe(1900);
  });

  it('returns the longest track, each in its own timescale, and ignores trafs of unknown tracks', async () => {
    const file = fragmented([trak(1, 16), trak(2, 48_000, 0, 1)], [trex(1, 1), trex(2, 1024)], [
      [traf(1, { count: 16 }), traf(2, { count: 47 }), traf(9, { count: 1, defaultDuration: 10 ** 9 })],
      [traf(1, { count: 16 }), traf(2, { count: 47 })],
    ]);
    expect(await probe(file)).toBe(Math.round((94 * 1024 * 1000) / 48_000)); // 2005 ms of audio beats 2000 of video
  });

  it('adds fragments to the samples in moov when mvhd covers only those (ffmpeg frag_keyframe)', async () => {
    const file = cat(ftyp(), moov(mvhd(500), trak(1, 16, 8), mvex(trex(1, 1))), mdat(),
      moof(1, traf(1, { count: 8 })), mdat(), moof(2, traf(1, { durations: [1, 1, 1, 1] })), mdat());
    expect(await probe(file)).toBe(1250);
    expect(await probe(cat(ftyp(), moov(mvhd(500), trak(1, 16, 8), mvex(trex(1, 1))), mdat()))).toBe(500);
    const unknown = cat(ftyp(), moov(mvhd(2 ** 32 - 1), trak(1, 16, 2 ** 32 - 1), mvex(trex(1, 1))),
      moof(1, traf(1, { count: 24 })), mdat());
    expect(await probe(unknown)).toBe(1500); // all-ones durations mean "unknown", not 49 days
  });

  it('takes a top-level sidx (version 0 and 1) when mvhd says 0, before or after moov', async () => {
    const tracks = [trak(1, 16)];
    const after = cat(ftyp(), moov(mvhd(0), ...tracks, mvex(trex(1, 1))), sidx(90_000, [90_000, 45_000]),
      moof(1, traf(1, { count: 1 })), mdat());
    expect(await probe(after)).toBe(1500);
    const before = cat(ftyp(), sidx(1000, [2500, 2500, 1000], 1), moov(mvhd(0), ...tracks, mvex(trex(1, 1))));
    expect(await probe(before)).toBe(6000);
    const empty = cat(ftyp(), moov(mvhd(0), ...tracks, mvex(trex(1, 1))), sidx(1000, []),
      moof(1, traf(1, { count: 8 })));
    expect(await probe(empty)).toBe(500); // an empty index says nothing: the fragments do
  });
});

// ---------------------------------------------------------------- nothing usable, malformed input, the bound

describe('mp4DurationMs: unknown durations', () => {
  it('returns null when nothing gives a duration', async () => {
    expect(await probe(cat(ftyp(), moov(mvhd(0), trak(1, 16)), mdat()))).toBeNull();
    expect(await probe(fragmented([trak(1, 16)], [trex(1, 0)], [[traf(1, { count: 5 })]]))).toBeNull();
    expect(await probe(cat(ftyp(), mdat()))).toBeNull(); // no moov
    expect(await probe(cat(ftyp(), moov(trak(1, 16))))).toBeNull(); // no mvhd
    expect(await probe(new Uint8Array(0))).toBeNull();
    expect(await mp4DurationMs(async () => null)).toBeNull();
  });

  it('returns null for truncated or garbage files, never throwing', async () => {
    const plain = cat(ftyp(), moov(mvhd(5000), trak(1, 16)), mdat());
    const frag = fragmented([trak(1, 16)], [trex(1, 1)],
      [[traf(1, { durations: [1, 1, 1] })], [traf(1, { count: 9 })]]);
    for (const cut of [1, 7, 20, 40, 100]) expect(await probe(plain.subarray(0, cut))).toBeNull();
    const secondMoof = frag.length - mdat().length - 10;
    expect(await probe(frag.subarray(0, secondMoof))).toBeNull();
    expect(await probe(ascii('<!doctype html><html><body>not a video</body></html>'))).toBeNull();
    expect(await probe(cat(u32(4), ascii('ftyp'), zeros(20)))).toBeNull(); // size smaller than its header
    const overrun = cat(ftyp(), moov(mvhd(0), trak(1, 16), mvex(trex(1, 1))),
      moof(1, box('traf', full('tfhd', 0, 0, u32(1)), full('trun', 0, 0x100, u32(1000), u32(5))),
        box('free', zeros(8000))));
    expect(await probe(overrun)).toBeNull(); // trun claims more samples than it holds (not read from the next box)
    expect(await probe(cat(ftyp(), moof(1, traf(1, { count: 3 })), moov(mvhd(0), trak(1, 16))))).toBeNull();
  });

  it('gives up (null) past 1024 top-level boxes or a moof over 1 MiB', async () => {
    const head = [ftyp(), moov(mvhd(0), trak(1, 16), mvex(trex(1, 1)))];
    const pairs = (n: number) =>
      Array.from({ length: n }, (_, i) => [moof(i + 1, traf(1, { count: 2 })), mdat(8)]).flat();
    expect(await probe(cat(...head, ...pairs(511)))).toBe(Math.round((511 * 2 * 1000) / 16)); // exactly 1024 boxes
    expect(await probe(cat(...head, ...pairs(511), box('free')))).toBeNull(); // 1025
    expect(await probe(cat(...head, ...Array.from({ length: 1100 }, () => box('free'))))).toBeNull();
    const huge = moof(1, traf(1, { count: 2 }), box('free', zeros(1024 * 1024)));
    expect(await probe(cat(...head, huge, mdat()))).toBeNull();
  });
});

// ---------------------------------------------------------------- properties

describe('mp4DurationMs: properties', () => {
  const settings = { seed: 8, numRuns: 200 };

  it('never throws on random bytes or on corrupted fragmented files', async () => {
    const base = fragmented([trak(1, 16), trak(2, 1000)], [mehd(0), trex(1, 1), trex(2, 20)],
      [[traf(1, { durations: [1, 2] }), traf(2, { count: 3, defaultDuration: 40, extras: true })],
        [traf(1, { count: 4 })]]);
    const ok = (ms: number | null) => ms === null || (Number.isFinite(ms) && ms >= 0);
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 4096 }), async (bytes) => ok(await probe(bytes))),
      settings,
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
        fc.oneof(fc.constant(base.length), fc.nat(base.length)),
        async (edits, cut) => {
          const file = base.slice(0, cut);
          for (const [at, value] of edits) if (at < file.length) file[at] = value;
          return ok(await probe(file));
        },
      ),
      settings,
    );
  });

  it('returns exactly the longest track of generated fragmented files', async () => {
    const fragment = fc.oneof(
      fc.record({
        kind: fc.constant('samples' as const),
        durations: fc.array(fc.nat(5000), { minLength: 1, maxLength: 12 }),
      }),
      fc.record({ kind: fc.constant('tfhd' as const), count: fc.nat(40), duration: fc.nat(5000) }),
      fc.record({ kind: fc.constant('trex' as const), count: fc.nat(40) }),
    );
    const track = fc.record({
      scale: fc.integer({ min: 1, max: 96_000 }),
      trex: fc.nat(3000),
      fragments: fc.array(fragment, { maxLength: 30 }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(track, { minLength: 1, maxLength: 3 }), fc.boolean(), async (tracks, withSidx) => {
        const ticksOf = (f: (typeof tracks)[number]['fragments'][number], trexDuration: number) =>
          f.kind === 'samples'
            ? f.durations.reduce((a, b) => a + b, 0)
            : f.count * (f.kind === 'tfhd' ? f.duration : trexDuration);
        const expected = Math.max(...tracks.map((t) =>
          Math.round((t.fragments.reduce((sum, f) => sum + ticksOf(f, t.trex), 0) * 1000) / t.scale)));
        const trafs = tracks.map((t, i) => t.fragments.map((f) =>
          f.kind === 'samples' ? traf(i + 1, { durations: f.durations })
            : traf(i + 1, { count: f.count, defaultDuration: f.kind === 'tfhd' ? f.duration : undefined })));
        // Fragment k carries the k-th traf of every track that has one.
        const count = Math.max(...trafs.map((t) => t.length));
        const fragments = Array.from({ length: count }, (_, k) => trafs.flatMap((t) => (k < t.length ? [t[k]!] : [])));
        const file = fragmented(tracks.map((t, i) => trak(i + 1, t.scale)), tracks.map((t, i) => trex(i + 1, t.trex)),
          fragments);
        // An empty sidx (no references) must not stand in for the fragments.
        const withIndex = withSidx ? cat(file, sidx(1000, [])) : file;
        expect(await probe(withIndex)).toBe(expected || null);
      }),
      settings,
    );
  });
});
