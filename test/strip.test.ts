// Metadata stripping of customer inputs by container rewriting (src/media/strip.ts) and DICOM recognition. Files are
// built in test/fixtures/media-builders.ts (two of them real encoder output) and read back with independent walkers.
import fc from 'fast-check';
import { describe, expect, inject, it } from 'vitest';
import { isDicom, stripMetadata, StripError } from '../src/media/strip';
import { sniff } from '../src/media/sniff';
import {
  apeTag, ascii, cat, crc32, dicomDataset, dicomImplicit, dicomMetaOnly, dicomPart10, equal, exifIfd0, exifSegment,
  flacBlock, flacBlocks, flacFrames, id3v1, id3v2, indexOf, jpegSegments, metadataFlac, metadataJpeg, metadataMp3,
  metadataPng, metadataWav, metadataWebp, mp3Frames, noise, pngChunk, pngChunks, REAL_JPEG, REAL_WEBP,
  realJpegWithMetadata, riffChunk, scanData, riffChunks, riffFile, SECRETS, segment, STREAMINFO, u32be, u32le,
  type Bytes,
} from './fixtures/media-builders';
import { PNG_BYTES, wavBytes } from './helpers';

const { seed: SEED, runs: RUNS } = inject('fuzz');

const typeOf = (b: Bytes) => sniff(b.subarray(0, 16))!.type;
const strip = (b: Bytes) => stripMetadata(b, typeOf(b));
const noSecrets = (b: Bytes) => {
  for (const s of SECRETS) expect(indexOf(b, s), s).toBe(-1);
};
const secretsIn = (b: Bytes) => SECRETS.filter((s) => indexOf(b, s) >= 0);
const riffSize = (b: Bytes) => new DataView(b.buffer, b.byteOffset).getUint32(4, true);
const expectStripError = (b: Bytes, type: string) => expect(() => stripMetadata(b, type)).toThrow(StripError);

/** Runs a stripped file through a second time: nothing more is removed and the bytes do not change. */
function expectIdempotent(out: Bytes, type: string) {
  const again = stripMetadata(out, type);
  expect(again.removed).toEqual([]);
  expect(again.bytes).toBe(out); // unchanged: the very same array comes back
}

// ------------------------------------------------------------------------------------------------ JPEG

describe('JPEG', () => {
  for (const order of ['II', 'MM'] as const) {
    it(`drops Exif (${order}), XMP, IPTC, COM and vendor APPn; keeps JFIF, ICC, Adobe, tables; SOS onwards verbatim`, () => {
      const input = metadataJpeg({ order });
      expect(secretsIn(input).length).toBe(SECRETS.length);
      const { bytes, removed, stripped } = stripMetadata(input, 'image/jpeg');
      expect(stripped).toBe(true);
      expect(removed).toEqual(['APP1/Exif', 'APP1/XMP', 'APP1/XMP-extended', 'APP2/MPF', 'APP13/Photoshop', 'APP5', 'APP15', 'COM']);
      noSecrets(bytes);

      const before = jpegSegments(input);
      const after = jpegSegments(bytes);
      const markers = after.segments.map((s) => s.marker);
      expect(markers).toEqual([0xe0, 0xe1, 0xe2, 0xee, 0xdb, 0xc0, 0xc4, 0xdd]);
      // Every kept segment is byte-identical to the input's (the minimal APP1 is new).
      const raw = (b: Bytes, s: { start: number; end: number }) => b.subarray(s.start, s.end);
      for (const s of after.segments.filter((x) => x.marker !== 0xe1)) {
        const twin = before.segments.find((x) => x.marker === s.marker && equal(raw(input, x), raw(bytes, s)));
        expect(twin, `marker ${s.marker.toString(16)}`).toBeDefined();
      }
      // The only APP1 is the minimal Exif: TIFF header in the same byte order, IFD0 with Orientation = 6 alone.
      const app1 = after.segments.find((s) => s.marker === 0xe1)!;
      const seg = raw(bytes, app1);
      expect(String.fromCharCode(...seg.subarray(4, 10))).toBe('Exif\0\0');
      const ifd0 = exifIfd0(seg);
      expect(ifd0).toEqual({ order, entries: [{ tag: 0x0112, type: 3, count: 1, value: 6 }], next: 0, tiffLength: 26 });
      // From SOS to the end: identical.
      expect(equal(bytes.subarray(after.sos), input.subarray(before.sos))).toBe(true);
      expect(bytes.length).toBeLessThan(input.length);
      expectIdempotent(bytes, 'image/jpeg');
    });
  }

  it('a real encoder JPEG with metadata comes back as that JPEG plus only the minimal orientation segment', () => {
    const afterApp0 = 4 + u16(REAL_JPEG, 4);
    const { bytes, removed } = stripMetadata(realJpegWithMetadata('MM'), 'image/jpeg');
    expect(removed).toEqual(['APP1/Exif', 'APP1/XMP', 'APP13/Photoshop', 'COM']);
    const minimal = jpegSegments(bytes).segments[1]!;
    expect(minimal.marker).toBe(0xe1);
    expect(minimal.end - minimal.start).toBe(36);
    const expected = cat(REAL_JPEG.subarray(0, afterApp0), bytes.subarray(minimal.start, minimal.end), REAL_JPEG.subarray(afterApp0));
    expect(equal(bytes, expected)).toBe(true);
  });

  it('a JPEG without metadata is returned as is (the same array, nothing removed)', () => {
    const r = stripMetadata(REAL_JPEG, 'image/jpeg');
    expect(r).toEqual({ bytes: REAL_JPEG, removed: [], stripped: true });
    expect(r.bytes).toBe(REAL_JPEG);
  });

  it('no orientation segment when Exif has none, or orientation 1; a LONG orientation becomes a SHORT one', () => {
    for (const orientation of [null, 1, 0, 9]) {
      const { bytes, removed } = stripMetadata(metadataJpeg({ orientation }), 'image/jpeg');
      expect(removed).toContain('APP1/Exif');
      expect(jpegSegments(bytes).segments.some((s) => s.marker === 0xe1)).toBe(false);
    }
    const input = cat(REAL_JPEG.subarray(0, 2), exifSegment('II', 8, 4), REAL_JPEG.subarray(2));
    const { bytes } = stripMetadata(input, 'image/jpeg');
    const app1 = jpegSegments(bytes).segments.find((s) => s.marker === 0xe1)!;
    expect(exifIfd0(bytes.subarray(app1.start, app1.end)).entries).toEqual([{ tag: 0x0112, type: 3, count: 1, value: 8 }]);
  });

  it("an 'Exif\\0\\xff' identifier (some cameras) is Exif too: dropped, orientation kept", () => {
    const seg = exifSegment('MM', 7);
    seg[9] = 0xff;
    const { bytes, removed } = stripMetadata(cat(REAL_JPEG.subarray(0, 2), seg, REAL_JPEG.subarray(2)), 'image/jpeg');
    expect(removed).toEqual(['APP1/Exif']);
    const app1 = jpegSegments(bytes).segments.find((s) => s.marker === 0xe1)!;
    expect(exifIfd0(bytes.subarray(app1.start, app1.end)).entries).toEqual([{ tag: 0x0112, type: 3, count: 1, value: 7 }]);
    noSecrets(bytes);
  });

  it('only one orientation segment even when several Exif segments carry one', () => {
    const input = cat(REAL_JPEG.subarray(0, 2), exifSegment('II', 3), exifSegment('MM', 6), REAL_JPEG.subarray(2));
    const { bytes } = stripMetadata(input, 'image/jpeg');
    const app1s = jpegSegments(bytes).segments.filter((s) => s.marker === 0xe1);
    expect(app1s.length).toBe(1);
    expect(exifIfd0(bytes.subarray(app1s[0]!.start, app1s[0]!.end)).entries[0]!.value).toBe(3);
  });

  it('tolerates fill bytes and RSTn before SOS; refuses what it cannot walk', () => {
    const ok = cat(REAL_JPEG.subarray(0, 2), Uint8Array.of(0xff, 0xff, 0xff, 0xd0), comSeg(), REAL_JPEG.subarray(2));
    expect(stripMetadata(ok, 'image/jpeg').removed).toEqual(['COM']);
    const sos = jpegSegments(REAL_JPEG).sos;
    const bad: Bytes[] = [
      REAL_JPEG.subarray(2), // no SOI
      REAL_JPEG.subarray(0, sos), // no SOS
      cat(REAL_JPEG.subarray(0, 2), segment(0xe0, ascii('JFIF\0')), Uint8Array.of(0xff, 0xd9)), // EOI before SOS
      cat(REAL_JPEG.subarray(0, 2), ascii('junk'), REAL_JPEG.subarray(2)), // bytes where a marker is due
      cat(REAL_JPEG.subarray(0, 2), Uint8Array.of(0xff, 0xe1, 0xff, 0xf0), ascii('Exif')), // runs past the end
      cat(REAL_JPEG.subarray(0, 2), Uint8Array.of(0xff, 0xe1, 0x00, 0x01), REAL_JPEG.subarray(2)), // length < 2
      cat(REAL_JPEG.subarray(0, 2), Uint8Array.of(0xff, 0x50, 0x00, 0x04, 0, 0), REAL_JPEG.subarray(2)), // reserved marker
      cat(REAL_JPEG.subarray(0, 2), Uint8Array.of(0xff, 0xd8), REAL_JPEG.subarray(2)), // second SOI
      Uint8Array.of(0xff, 0xd8, 0xff),
    ];
    for (const b of bad) expectStripError(b, 'image/jpeg');
  });

  it('after the first scan: the image ends at its EOI (trailers go), APPn/COM between progressive scans go, tables stay', () => {
    const base = metadataJpeg({ orientation: null });
    const eoi = base.length - 2;
    const dht = segment(0xc4, cat(Uint8Array.of(0x10), Uint8Array.of(0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), Uint8Array.of(0xff)));
    const sos2 = segment(0xda, Uint8Array.of(1, 1, 0x00, 0, 0x3f, 0));
    // A second scan with an APP1 and a COM before it, then EOI, then a "motion photo" trailer carrying metadata.
    const trailer = cat(ascii('ftypmp42'), ascii('GPS-SECRET'), noise(64, 5));
    const input = cat(base.subarray(0, eoi), comSeg(), segment(0xe1, ascii('Exif\0\0Canon EOS-1')), dht, sos2, scanData(500, 9), Uint8Array.of(0xff, 0xd9), trailer);
    const { bytes, removed } = stripMetadata(input, 'image/jpeg');
    noSecrets(bytes);
    expect(removed).toEqual(expect.arrayContaining(['COM', 'APP1', 'trailing-data']));
    expect(bytes.subarray(-2)).toEqual(Uint8Array.of(0xff, 0xd9));
    expect(indexOf(bytes, dht)).toBeGreaterThan(0);
    expect(indexOf(bytes, sos2)).toBeGreaterThan(0);
    // A JPEG cut short before its EOI keeps what it has.
    const cut = base.subarray(0, eoi - 10);
    expect(stripMetadata(cut, 'image/jpeg').bytes.subarray(-100)).toEqual(cut.subarray(-100));
    expectIdempotent(bytes, 'image/jpeg');
  });

  it('a minimal orientation segment survives a second pass unchanged, in either byte order', () => {
    for (const order of ['II', 'MM'] as const) {
      const once = stripMetadata(metadataJpeg({ order, orientation: 5 }), 'image/jpeg').bytes;
      expectIdempotent(once, 'image/jpeg');
    }
  });
});

const u16 = (b: Bytes, at: number) => (b[at]! << 8) | b[at + 1]!;
const comSeg = () => segment(0xfe, ascii('Jane Q. Patient'));

// ------------------------------------------------------------------------------------------------ PNG

describe('PNG', () => {
  it('keeps only the kept chunks, byte for byte (IDAT identical, CRCs valid); text, Exif, time, unknown and trailing bytes go', () => {
    const input = metadataPng();
    const { bytes, removed } = strip(input);
    expect(removed).toEqual(['tEXt', 'zTXt', 'iTXt', 'eXIf', 'tIME', 'PNG/ancillary', 'trailing-data']);
    noSecrets(bytes);
    expect(equal(bytes.subarray(0, 8), PNG_BYTES.subarray(0, 8))).toBe(true);
    const chunks = pngChunks(bytes);
    const base = pngChunks(PNG_BYTES).map((c) => c.type);
    expect(chunks.map((c) => c.type)).toEqual([base[0], 'gAMA', 'pHYs', ...base.slice(1)]);
    expect(chunks[0]!.type).toBe('IHDR');
    expect(chunks.at(-1)!.type).toBe('IEND');
    expect(chunks.at(-1)!.end).toBe(bytes.length);
    for (const c of chunks) expect(u32(bytes, c.end - 4)).toBe(crc32(bytes.subarray(c.start + 4, c.end - 4)));
    const idat = (b: Bytes) => cat(...pngChunks(b).filter((c) => c.type === 'IDAT').map((c) => b.subarray(c.start, c.end)));
    expect(equal(idat(bytes), idat(PNG_BYTES))).toBe(true);
    expectIdempotent(bytes, 'image/png');
  });

  it('a PNG without metadata is returned as is', () => {
    expect(strip(PNG_BYTES)).toEqual({ bytes: PNG_BYTES, removed: [], stripped: true });
  });

  it('refuses a truncated PNG, a bad length, IHDR not first, an unknown critical chunk', () => {
    const ihdrEnd = pngChunks(PNG_BYTES)[0]!.end;
    const bad: Bytes[] = [
      PNG_BYTES.subarray(0, PNG_BYTES.length - 12), // no IEND
      PNG_BYTES.subarray(0, PNG_BYTES.length - 3),
      cat(PNG_BYTES.subarray(0, ihdrEnd), u32be(0xfffffff0), ascii('tEXt'), PNG_BYTES.subarray(ihdrEnd)),
      cat(PNG_BYTES.subarray(0, 8), pngChunk('tEXt', ascii('a\0b')), PNG_BYTES.subarray(8)),
      cat(PNG_BYTES.subarray(0, ihdrEnd), pngChunk('ABCD', ascii('x')), PNG_BYTES.subarray(ihdrEnd)),
      cat(PNG_BYTES.subarray(0, ihdrEnd), u32be(0), ascii('t3Xt'), u32be(0), PNG_BYTES.subarray(ihdrEnd)),
    ];
    for (const b of bad) expectStripError(b, 'image/png');
  });
});

const u32 = (b: Bytes, at: number) => new DataView(b.buffer, b.byteOffset).getUint32(at);

// ------------------------------------------------------------------------------------------------ WebP

describe('WebP', () => {
  it('drops EXIF, XMP and unknown chunks, clears the VP8X flags, rewrites the RIFF size: the real file comes back', () => {
    const input = metadataWebp();
    expect(riffChunks(input)[0]!.data[0]! & 0x0c).toBe(0x0c);
    const { bytes, removed } = strip(input);
    expect(removed).toEqual(['RIFF/EXIF', 'RIFF/XMP', 'RIFF/other']);
    noSecrets(bytes);
    const chunks = riffChunks(bytes);
    expect(chunks.map((c) => c.type)).toEqual(['VP8X', 'ICCP', 'VP8 ']);
    expect(chunks[0]!.data[0]).toBe(0x20); // ICC flag kept, EXIF/XMP cleared
    expect(riffSize(bytes)).toBe(bytes.length - 8);
    const vp8 = (b: Bytes) => riffChunks(b).find((c) => c.type === 'VP8 ')!;
    expect(equal(vp8(bytes).data, vp8(REAL_WEBP).data)).toBe(true);
    expect(equal(bytes, REAL_WEBP)).toBe(true);
    expectIdempotent(bytes, 'image/webp');
  });

  it('respects pad bytes of odd-sized chunks and drops bytes after the RIFF end', () => {
    const input = cat(riffFile('WEBP', riffChunk('EXIF', ascii('odd')), riffChunk('VP8L', ascii('abcde')), riffChunk('XMP ', ascii('x'))), ascii('tail'));
    const { bytes, removed } = strip(input);
    expect(removed).toEqual(['RIFF/EXIF', 'RIFF/XMP', 'trailing-data']);
    expect(equal(bytes, riffFile('WEBP', riffChunk('VP8L', ascii('abcde'))))).toBe(true);
  });

  it('refuses a RIFF size past the end and a chunk past the RIFF end', () => {
    const ok = riffFile('WEBP', riffChunk('VP8L', ascii('abcd')));
    expectStripError(ok.subarray(0, ok.length - 1), 'image/webp');
    const long = ok.slice();
    long.set(u32le(100), 16);
    expectStripError(long, 'image/webp');
  });
});

// ------------------------------------------------------------------------------------------------ WAV

describe('WAV', () => {
  it('drops LIST/INFO, id3, bext and iXML; fmt and data identical; other chunks kept; RIFF size right', () => {
    const input = metadataWav();
    const { bytes, removed } = strip(input);
    expect(removed).toEqual(['RIFF/LIST', 'RIFF/bext', 'RIFF/iXML', 'RIFF/id3']);
    noSecrets(bytes);
    const chunks = riffChunks(bytes);
    expect(chunks.map((c) => c.type)).toEqual(['fmt ', 'fact', 'data', 'cue ']);
    const base = riffChunks(wavBytes(50));
    for (const type of ['fmt ', 'data']) {
      expect(equal(chunks.find((c) => c.type === type)!.data, base.find((c) => c.type === type)!.data)).toBe(true);
    }
    expect(riffSize(bytes)).toBe(bytes.length - 8);
    expect(chunks.at(-1)!.end).toBe(bytes.length);
    expectIdempotent(bytes, 'audio/wav');
  });

  it('pad bytes: an odd chunk dropped or kept keeps the walk aligned', () => {
    const base = wavBytes(10);
    const [fmt, data] = riffChunks(base);
    const input = riffFile('WAVE', base.subarray(fmt!.start, fmt!.end), riffChunk('LIST', ascii('INFOIART\x03\0\0\0abc')), riffChunk('smpl', ascii('xyz')), base.subarray(data!.start, data!.end));
    const { bytes } = strip(input);
    expect(riffChunks(bytes).map((c) => [c.type, c.data.length])).toEqual([['fmt ', 16], ['smpl', 3], ['data', data!.data.length]]);
    expect(riffSize(bytes)).toBe(bytes.length - 8);
  });

  it('a last odd-sized chunk without its pad byte is tolerated', () => {
    const base = wavBytes(10);
    const [fmt] = riffChunks(base);
    const odd = riffFile('WAVE', base.subarray(fmt!.start, fmt!.end), riffChunk('LIST', ascii('INFOx')), riffChunk('data', Uint8Array.of(1, 2, 3)));
    const unpadded = odd.slice(0, -1);
    unpadded.set(u32le(unpadded.length - 8), 4);
    const { bytes, removed } = strip(unpadded);
    expect(removed).toEqual(['RIFF/LIST']);
    expect(riffChunks(bytes).map((c) => c.type)).toEqual(['fmt ', 'data']);
    expect(equal(bytes.subarray(-11), cat(ascii('data'), u32le(3), Uint8Array.of(1, 2, 3)))).toBe(true);
    expectIdempotent(bytes, 'audio/wav');
  });

  it('a WAV without metadata is returned as is; a truncated one is refused', () => {
    const wav = wavBytes(20);
    expect(strip(wav).bytes).toBe(wav);
    expectStripError(wav.subarray(0, wav.length - 2), 'audio/wav');
  });
});

// ------------------------------------------------------------------------------------------------ MP3

describe('MP3', () => {
  it('drops stacked leading ID3v2 tags (one with a footer), a trailing APEv2 and ID3v1: the frames are left', () => {
    const { bytes, removed } = strip(metadataMp3());
    expect(removed).toEqual(['ID3v2', 'ID3v1', 'APEv2']);
    expect(equal(bytes, mp3Frames())).toBe(true);
    noSecrets(bytes);
    expectIdempotent(bytes, 'audio/mpeg');
  });

  it('Enhanced TAG+, Lyrics3 v2 and an appended ID3v2.4 tag go too', () => {
    const plus = cat(ascii('TAG+'), new Uint8Array(223));
    const lyricsBody = ascii('LYRICSBEGININD0000200LYR00012Jane Patient');
    const lyrics = cat(lyricsBody, ascii(String(lyricsBody.length).padStart(6, '0')), ascii('LYRICS200'));
    const appended = id3v2('4', [['TPE1', 'Jane Q. Patient']], true);
    const input = cat(mp3Frames(3), appended, apeTag(), lyrics, plus, id3v1());
    const { bytes, removed } = stripMetadata(input, 'audio/mpeg');
    expect(removed).toEqual(['ID3v1', 'Lyrics3', 'APEv2', 'ID3v2']);
    expect(equal(bytes, mp3Frames(3))).toBe(true);
  });

  it('refuses a tag running past the end, a non-syncsafe size, no frame after the tags', () => {
    const tag = id3v2('3', [['TIT2', 'x']]);
    expectStripError(tag.subarray(0, tag.length - 1), 'audio/mpeg');
    const big = tag.slice();
    big[7] = 0x80;
    expectStripError(cat(big, mp3Frames(1)), 'audio/mpeg');
    expectStripError(cat(tag, ascii('not a frame')), 'audio/mpeg');
    expectStripError(cat(tag, ascii('fLaC')), 'audio/mpeg');
  });

  it('zero padding after the tag is dropped; an MP3 without tags is returned as is', () => {
    expect(equal(stripMetadata(cat(id3v2('3', []), new Uint8Array(7), mp3Frames(2)), 'audio/mpeg').bytes, mp3Frames(2))).toBe(true);
    const frames = mp3Frames(2);
    expect(stripMetadata(frames, 'audio/mpeg').bytes).toBe(frames);
  });
});

// ------------------------------------------------------------------------------------------------ FLAC

describe('FLAC', () => {
  it('drops VORBIS_COMMENT, PICTURE, APPLICATION and PADDING; keeps STREAMINFO and SEEKTABLE; last-block flag moved', () => {
    const input = metadataFlac();
    const { bytes, removed } = strip(input);
    expect(removed).toEqual(['VORBIS_COMMENT', 'PICTURE', 'APPLICATION', 'PADDING']);
    noSecrets(bytes);
    const { blocks, audio } = flacBlocks(bytes);
    expect(blocks.map((b) => [b.type, b.last])).toEqual([[0, false], [3, true]]);
    expect(equal(bytes.subarray(blocks[0]!.start + 4, blocks[0]!.end), STREAMINFO)).toBe(true);
    expect(equal(bytes.subarray(audio), input.subarray(flacBlocks(input).audio))).toBe(true);
    expectIdempotent(bytes, 'audio/flac');
  });

  it('STREAMINFO becomes the last block when everything after it goes', () => {
    const input = cat(ascii('fLaC'), flacBlock(0, STREAMINFO), flacBlock(4, ascii('ARTIST=x')), flacBlock(6, ascii('pic'), true), flacFrames(100));
    const { bytes } = strip(input);
    expect(equal(bytes, cat(ascii('fLaC'), flacBlock(0, STREAMINFO, true), flacFrames(100)))).toBe(true);
  });

  it('an ID3v1 tag appended after the frames goes too', () => {
    const input = cat(ascii('fLaC'), flacBlock(0, STREAMINFO, true), flacFrames(300), id3v1());
    const { bytes, removed } = strip(input);
    expect(removed).toEqual(['ID3v1']);
    expect(equal(bytes, cat(ascii('fLaC'), flacBlock(0, STREAMINFO, true), flacFrames(300)))).toBe(true);
  });

  it('refuses STREAMINFO not first, an invalid block type, a block past the end', () => {
    expectStripError(cat(ascii('fLaC'), flacBlock(4, ascii('x')), flacBlock(0, STREAMINFO, true)), 'audio/flac');
    expectStripError(cat(ascii('fLaC'), flacBlock(0, STREAMINFO), flacBlock(127, ascii('x'), true)), 'audio/flac');
    expectStripError(cat(ascii('fLaC'), flacBlock(0, STREAMINFO)), 'audio/flac');
    expectStripError(cat(ascii('fLaC'), flacBlock(0, STREAMINFO, true)).subarray(0, 30), 'audio/flac');
  });
});

// ------------------------------------------------------------------------------------------------ others

const OGG = cat(ascii('OggS'), Uint8Array.of(0, 2), new Uint8Array(20), ascii('\x01vorbis'), noise(40, 3));
const M4A = cat(u32be(24), ascii('ftypM4A '), u32be(0), ascii('M4A isom'), u32be(16), ascii('mdat'), noise(8, 4));

describe('types the stripper does not rewrite', () => {
  it('M4A, OGG and anything else come back unchanged with stripped = false', () => {
    for (const [b, type] of [[M4A, 'audio/mp4'], [OGG, 'audio/ogg'], [PNG_BYTES, 'image/gif'], [noise(10), 'video/mp4']] as const) {
      const r = stripMetadata(b, type);
      expect(r).toEqual({ bytes: b, removed: [], stripped: false });
      expect(r.bytes).toBe(b);
    }
  });
});

// ------------------------------------------------------------------------------------------------ DICOM

const NOT_DICOM: [string, Bytes][] = [
  ['jpeg', REAL_JPEG], ['jpeg+metadata', metadataJpeg()], ['png', PNG_BYTES], ['png+metadata', metadataPng()], ['webp', REAL_WEBP],
  ['webp+metadata', metadataWebp()], ['wav', wavBytes(10)], ['wav+metadata', metadataWav()], ['mp3', metadataMp3()],
  ['mp3 frames', mp3Frames(1)], ['flac', metadataFlac()], ['ogg', OGG], ['m4a', M4A], ['text', ascii('Hello, this is plain text. '.repeat(10))],
  ['json', ascii(JSON.stringify({ a: 1, b: 'x'.repeat(200) }))], ['empty', new Uint8Array(0)], ['short', Uint8Array.of(8, 0, 5)],
  ['zeros', new Uint8Array(200)],
];

describe('isDicom', () => {
  it('recognises a Part 10 file, preamble-less explicit-VR datasets (group 0008 and 0002) and an implicit-VR one', () => {
    expect(isDicom(dicomPart10())).toBe(true);
    expect(isDicom(dicomPart10().subarray(0, 132))).toBe(true);
    expect(isDicom(dicomDataset())).toBe(true);
    expect(Array.from(dicomDataset().subarray(0, 6))).toEqual([0x08, 0, 0x05, 0, 0x43, 0x53]); // 08 00 05 00 'CS'
    expect(isDicom(dicomMetaOnly())).toBe(true);
    expect(Array.from(dicomMetaOnly().subarray(0, 8))).toEqual([0x02, 0, 0, 0, 0x55, 0x4c, 4, 0]); // 02 00 00 00 'UL' 04 00
    expect(isDicom(dicomImplicit())).toBe(true);
    // A Part 10 file whose preamble looks like a JPEG (dual-personality files exist): still DICOM.
    const dual = dicomPart10();
    dual.set([0xff, 0xd8, 0xff, 0xe0]);
    expect(isDicom(dual)).toBe(true);
  });

  it('does not flag images, audio, text or random bytes', () => {
    for (const [name, b] of NOT_DICOM) expect(isDicom(b.subarray(0, 132)), name).toBe(false);
    for (let seed = 1; seed <= 200; seed++) expect(isDicom(noise(132, seed)), `seed ${seed}`).toBe(false);
  });

  it('never throws; bytes that neither start like group 0002/0008 nor carry DICM at 128 are never DICOM', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
        const r = isDicom(b);
        const groupStart = b[1] === 0 && (b[0] === 2 || b[0] === 8);
        const dicm = b.length >= 132 && String.fromCharCode(...b.subarray(128, 132)) === 'DICM';
        if (!groupStart && !dicm) expect(r).toBe(false);
      }),
      { seed: SEED, numRuns: RUNS * 4 },
    );
  });
});

// ------------------------------------------------------------------------------------------------ properties

const SAMPLES: [string, Bytes][] = [
  ['image/jpeg', metadataJpeg({ scan: 300 })],
  ['image/jpeg', realJpegWithMetadata('II')],
  ['image/png', metadataPng()],
  ['image/webp', metadataWebp()],
  ['audio/wav', metadataWav(5)],
  ['audio/mpeg', metadataMp3()],
  ['audio/flac', metadataFlac()],
];
const TYPES = ['image/jpeg', 'image/png', 'image/webp', 'audio/wav', 'audio/mpeg', 'audio/flac'];

/** A result or a StripError; never larger than input + 64; the input untouched; a second pass changes nothing. */
function checkStrip(input: Bytes, type: string) {
  const copy = input.slice();
  let r;
  try {
    r = stripMetadata(input, type);
  } catch (e) {
    expect(e).toBeInstanceOf(StripError);
    return;
  } finally {
    expect(equal(input, copy)).toBe(true);
  }
  expect(r.stripped).toBe(true);
  expect(r.bytes.length).toBeLessThanOrEqual(input.length + 64);
  expectIdempotent(r.bytes, type);
}

type Mutation = { kind: 'truncate' | 'overwrite' | 'insert' | 'delete'; at: number; bytes: Bytes };
const mutation: fc.Arbitrary<Mutation> = fc.record({
  kind: fc.constantFrom('truncate', 'overwrite', 'insert', 'delete'),
  at: fc.double({ min: 0, max: 1, noNaN: true }),
  bytes: fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 4 }), fc.constantFrom(Uint8Array.of(0xff), Uint8Array.of(0xff, 0xff, 0xff, 0xff), Uint8Array.of(0x80), Uint8Array.of(0, 0, 0, 0))),
}) as fc.Arbitrary<Mutation>;
function mutate(b: Bytes, ms: Mutation[]): Bytes {
  for (const m of ms) {
    const at = Math.min(b.length, Math.floor(m.at * b.length));
    if (m.kind === 'truncate') b = b.slice(0, at);
    else if (m.kind === 'overwrite') (b = b.slice()), b.set(m.bytes.subarray(0, Math.max(0, b.length - at)), at);
    else if (m.kind === 'insert') b = cat(b.subarray(0, at), m.bytes, b.subarray(at));
    else b = cat(b.subarray(0, at), b.subarray(at + m.bytes.length));
  }
  return b;
}

describe('stripMetadata under fuzzing', () => {
  it('every valid sample strips, stays within bounds and is idempotent', () => {
    for (const [type, b] of SAMPLES) {
      expect(typeOf(b)).toBe(type);
      checkStrip(b, type);
      expect(stripMetadata(b, type).removed.length).toBeGreaterThan(0);
    }
  });

  it('mutated samples (truncations, overwritten lengths, insertions, deletions): a result or a StripError', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: SAMPLES.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 3 }), (i, ms) => {
        const [type, b] = SAMPLES[i]!;
        checkStrip(mutate(b, ms), type);
      }),
      { seed: SEED, numRuns: RUNS * 10 },
    );
  });

  it('random bytes, bare or behind a valid signature, under every type: a result or a StripError', () => {
    const prefixes = [Uint8Array.of(0xff, 0xd8), PNG_BYTES.subarray(0, 8), ascii('RIFF'), ascii('ID3'), ascii('fLaC'), Uint8Array.of(0xff, 0xfb), new Uint8Array(0)];
    fc.assert(
      fc.property(fc.constantFrom(...prefixes), fc.uint8Array({ maxLength: 400 }), fc.constantFrom(...TYPES), (prefix, rest, type) => {
        checkStrip(cat(prefix, rest), type);
      }),
      { seed: SEED, numRuns: RUNS * 10 },
    );
  });

  it('files assembled from random sequences of real parts: a result or a StripError, never a secret left', () => {
    const jpegParts = [exifSegment('II', 6), exifSegment('MM', 2), comSeg(), segment(0xe0, ascii('JFIF\0')), segment(0xe2, ascii('ICC_PROFILE\0xx')), Uint8Array.of(0xff, 0xff), Uint8Array.of(0xff, 0xd3)];
    const pngParts = [pngChunk('tEXt', ascii('a\0Jane Q. Patient')), pngChunk('gAMA', u32be(1)), pngChunk('IDAT', noise(10)), pngChunk('eXIf', ascii('MM\0*GPS-SECRET'))];
    const flacParts = [flacBlock(4, ascii('ARTIST=Jane Q. Patient')), flacBlock(3, new Uint8Array(18)), flacBlock(1, new Uint8Array(3)), flacBlock(6, ascii('GPS-SECRET'))];
    const sos = jpegSegments(REAL_JPEG).sos;
    fc.assert(
      fc.property(fc.array(fc.nat(3), { maxLength: 8 }), fc.array(fc.nat(6), { maxLength: 8 }), (pick4, pick7) => {
        const jpg = cat(REAL_JPEG.subarray(0, 2), ...pick7.map((k) => jpegParts[k]!), REAL_JPEG.subarray(2));
        const r1 = stripMetadata(jpg, 'image/jpeg');
        noSecrets(r1.bytes.subarray(0, r1.bytes.length - (REAL_JPEG.length - sos)));
        expectIdempotent(r1.bytes, 'image/jpeg');
        const ihdrEnd = pngChunks(PNG_BYTES)[0]!.end;
        const png = cat(PNG_BYTES.subarray(0, ihdrEnd), ...pick4.map((k) => pngParts[k]!), PNG_BYTES.subarray(ihdrEnd));
        noSecrets(stripMetadata(png, 'image/png').bytes);
        const last = pick4.length - 1;
        const flac = cat(ascii('fLaC'), flacBlock(0, STREAMINFO, pick4.length === 0), ...pick4.map((k, j) => {
          const blk = flacParts[k]!.slice();
          if (j === last) blk[0]! |= 0x80;
          return blk;
        }), flacFrames(20));
        const r3 = stripMetadata(flac, 'audio/flac');
        noSecrets(r3.bytes);
        expect(flacBlocks(r3.bytes).blocks.filter((b) => b.last).length).toBe(1);
        expectIdempotent(r3.bytes, 'audio/flac');
      }),
      { seed: SEED, numRuns: RUNS * 2 },
    );
  });
});

