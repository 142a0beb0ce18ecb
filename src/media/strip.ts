// Metadata removal for customer input files, and DICOM recognition (so that medical images can be refused).
// Metadata goes by REWRITING THE CONTAINER: segments / chunks / blocks / tags are walked by their headers and only
// the kept ranges are copied, once, into the output. Pixels and audio are never decoded or re-encoded, CRCs are
// neither checked nor recomputed (kept chunks are copied byte for byte), and the cost is linear in the bytes.
// When a container is malformed (truncated, a length running past the end, a structure we cannot vouch for) the
// answer is a StripError: removal could not be guaranteed, so the file must not be forwarded.
//
// What is removed, by container:
//   JPEG  Markers are walked from SOI up to the first SOS; from SOS on (entropy-coded data, later scans, EOI and
//         anything after it) the bytes are copied verbatim, so data appended after EOI (MPF secondary images,
//         motion-photo video, vendor trailers) is NOT removed. Dropped: APP1 (Exif, XMP, extended XMP, anything
//         else), APP2 unless it is ICC_PROFILE (so MPF / FlashPix go), APP3–APP13 (APP13 = Photoshop / IPTC), APP14
//         unless it is 'Adobe' (needed to decode CMYK / YCCK), APP15, COM. Kept: APP0 (JFIF / JFXX), APP2
//         ICC_PROFILE, APP14 Adobe and every non-APP marker (DQT, SOFn, DHT, DAC, DRI, DNL, JPGn…); 0xFF fill bytes,
//         RSTn and TEM are tolerated and copied. Orientation: when a dropped Exif segment ('Exif\0' + TIFF) carried
//         an IFD0 Orientation (0x0112, SHORT or LONG, count 1) of 2–8, a minimal APP1 Exif is written in place of
//         the first such segment: TIFF header in the original byte order (II or MM), IFD0 with that one entry as a
//         SHORT, next-IFD 0 (36 bytes). Nothing else survives (no GPS, camera, owner, dates, thumbnail). That exact
//         minimal segment is recognised and kept as is, so a second pass removes nothing. Errors: no SOI, bytes
//         other than a marker between segments, a reserved marker (0x02–0xBF), a second SOI, EOI or a stuffed 0x00
//         before SOS, a segment running past the end, no SOS.
//   PNG   Signature, then chunks up to IEND; bytes after IEND are dropped ('trailing-data'). Kept (copied byte for
//         byte, CRC untouched): IHDR PLTE IDAT IEND tRNS cHRM gAMA iCCP sBIT sRGB cICP mDCv cLLI bKGD hIST pHYs
//         sPLT acTL fcTL fdAT. Every other ancillary chunk is dropped (tEXt zTXt iTXt eXIf tIME …). Errors: bad
//         signature, IHDR not first, a length over 2^31-1 or past the end, a chunk type that is not 4 letters, an
//         unknown critical chunk (decoders must reject it too), no IEND.
//   WebP  RIFF/WEBP chunks within the RIFF size; bytes after it are dropped ('trailing-data'). Kept: VP8X VP8 VP8L
//         ALPH ANIM ANMF ICCP; dropped: EXIF, 'XMP ' and any unknown chunk. A VP8X chunk's EXIF (0x08) and XMP (0x04)
//         flags are cleared; the RIFF size is rewritten; odd chunk sizes carry a pad byte (only the last chunk's
//         may be missing). Errors: RIFF size past the end or under 4, a chunk past the RIFF end.
//   WAV   RIFF/WAVE chunks within the RIFF size; bytes after it are dropped ('trailing-data'). Dropped: LIST (INFO,
//         adtl…), 'id3 ', 'ID3 ', bext, iXML, axml, _PMX, cart, DISP; everything else is kept (fmt, data, fact, cue,
//         smpl, JUNK…). The RIFF size is rewritten; pad bytes respected. Errors as for WebP (so a streamed WAV whose
//         sizes were never filled in is refused: whatever follows its data chunk could not be found).
//   MP3   Dropped: leading ID3v2 tags (syncsafe size, +10 with the footer flag; stacked tags) and 0x00 padding after
//         them; at the end, in any order and repeated: ID3v1 'TAG' (128 bytes) with an Enhanced 'TAG+' (227 bytes)
//         before it, APEv2 (located by its 'APETAGEX' footer, header included when flagged), Lyrics3 v2, and an
//         appended ID3v2.4 (located by its '3DI' footer). MPEG frames in between are copied verbatim, not walked.
//         Errors: a tag running past the bounds, a non-syncsafe size, no frame sync after the leading tags.
//   FLAC  'fLaC', then metadata blocks, then frames verbatim. Kept: STREAMINFO (must be first), SEEKTABLE, CUESHEET.
//         Dropped: APPLICATION, VORBIS_COMMENT, PICTURE, PADDING (tag editors leave old tag bytes in it) and reserved
//         types. The last-block flag is set on the new last block (and cleared on the others). Frames verbatim,
//         less the tags some taggers append after them (as for MP3). Errors: no STREAMINFO first, block type 127,
//         a block past the end.
//   Other types (M4A, OGG, …) are returned unchanged with stripped = false: no guarantee is given for them.
// `removed` lists distinct fixed names (never bytes from the file) in the order first met, e.g. ['APP1/Exif','COM'];
// an unknown chunk is named generically ('PNG/ancillary', 'RIFF/other'). When nothing was changed the input array
// itself is returned (no copy); the input is never modified.

/** A container is malformed: metadata removal cannot be guaranteed. The message never quotes the file. */
export class StripError extends Error {
  override name = 'StripError';
}

export interface Stripped {
  bytes: Uint8Array;
  removed: string[];
  stripped: boolean;
}

// ------------------------------------------------------------------------------------------------ DICOM

const VRS = new Set('AE AS AT CS DA DS DT FL FD IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC UI UL UN UR US UT UV'.split(' '));
/** Explicit VRs whose length is 4 bytes after 2 reserved zero bytes. */
const LONG_VRS = new Set('OB OD OF OL OV OW SQ SV UC UN UR UT UV'.split(' '));

/**
 * DICOM: 'DICM' at byte offset 128 (a Part 10 file), or a preamble-less dataset starting with a plausible group
 * 0x0002 or 0x0008 data element (little-endian tag; explicit VR with a valid VR, or implicit VR with an even length
 * of at most 64 KiB or undefined). `head` is the file's first bytes (132 are enough; fewer are allowed).
 */
export function isDicom(head: Uint8Array): boolean {
  if (head.length >= 132 && matches(head, 128, 'DICM')) return true;
  if (head.length < 8 || head[1] !== 0 || (head[0] !== 0x02 && head[0] !== 0x08)) return false;
  const vr = String.fromCharCode(head[4]!, head[5]!);
  if (VRS.has(vr)) return LONG_VRS.has(vr) ? head[6] === 0 && head[7] === 0 : true;
  const length = u32le(head, 4);
  return length === 0xffffffff || (length <= 0x10000 && length % 2 === 0);
}

// ------------------------------------------------------------------------------------------------ entry point

/** The same file with its metadata removed (see the top of this module), or StripError when malformed. */
export function stripMetadata(bytes: Uint8Array, type: string): Stripped {
  const strip = STRIPPERS[type];
  if (!strip) return { bytes, removed: [], stripped: false };
  const out = new Output(bytes);
  strip(bytes, out);
  return { bytes: out.finish(), removed: out.removed, stripped: true };
}

const STRIPPERS: Record<string, (b: Uint8Array, out: Output) => void> = {
  'image/jpeg': jpeg,
  'image/png': png,
  'image/webp': (b, out) => riff(b, out, 'WEBP'),
  'audio/wav': (b, out) => riff(b, out, 'WAVE'),
  'audio/mpeg': mp3,
  'audio/flac': flac,
};

/** The output as a list of kept input ranges and small new pieces, assembled with one allocation. */
class Output {
  readonly removed: string[] = [];
  private readonly parts: Uint8Array[] = [];
  private lastEnd = -1; // end of the last part when it is a range of the input (for coalescing)
  /** Called on the assembled output (a new array) before it is returned. */
  patch?: (out: Uint8Array) => void;

  constructor(private readonly input: Uint8Array) {}

  keep(start: number, end: number): void {
    if (end <= start) return;
    const last = this.parts.length - 1;
    if (this.lastEnd === start) {
      const prev = this.parts[last]!;
      this.parts[last] = this.input.subarray(start - prev.length, end);
    } else {
      this.parts.push(this.input.subarray(start, end));
    }
    this.lastEnd = end;
  }

  add(piece: Uint8Array): void {
    this.parts.push(piece);
    this.lastEnd = -1;
  }

  drop(name: string): void {
    if (!this.removed.includes(name)) this.removed.push(name);
  }

  finish(): Uint8Array {
    // Nothing changed: one part, and it is the whole input.
    if (this.parts.length === 1 && this.lastEnd === this.input.length && this.parts[0]!.length === this.input.length) return this.input;
    const out = new Uint8Array(this.parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of this.parts) (out.set(p, at), (at += p.length));
    this.patch?.(out);
    return out;
  }
}

const fail = (what: string): never => {
  throw new StripError(`${what}: metadata removal cannot be guaranteed`);
};
const matches = (b: Uint8Array, at: number, sig: string) => {
  if (at < 0 || at + sig.length > b.length) return false;
  for (let i = 0; i < sig.length; i++) if (b[at + i] !== sig.charCodeAt(i)) return false;
  return true;
};
const u16be = (b: Uint8Array, at: number) => (b[at]! << 8) | b[at + 1]!;
const u32be = (b: Uint8Array, at: number) => ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
const u32le = (b: Uint8Array, at: number) => ((b[at + 3]! << 24) | (b[at + 2]! << 16) | (b[at + 1]! << 8) | b[at]!) >>> 0;

// ------------------------------------------------------------------------------------------------ JPEG

const EXIF_ID = 'Exif\0\0'; // recognised by its first 5 bytes: some cameras write 'Exif\0\xff'
const XMP_ID = 'http://ns.adobe.com/xap/1.0/\0';
const XMP_EXT_ID = 'http://ns.adobe.com/xmp/extension/\0';

function jpeg(b: Uint8Array, out: Output): void {
  const n = b.length;
  if (n < 4 || b[0] !== 0xff || b[1] !== 0xd8) fail('jpeg: no SOI');
  out.keep(0, 2);
  let pos = 2;
  let orientationWritten = false;
  for (;;) {
    const start = pos; // fill bytes, if any, travel with the segment that follows them
    if (pos >= n || b[pos] !== 0xff) fail('jpeg: no marker where one is due');
    while (pos < n && b[pos] === 0xff) pos++;
    if (pos >= n) fail('jpeg: no SOS');
    const marker = b[pos]!;
    pos++;
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      out.keep(start, pos); // TEM, RSTn: no length
      continue;
    }
    if (marker === 0x00 || marker === 0xd8 || marker === 0xd9 || marker < 0xc0) fail('jpeg: unexpected marker before SOS');
    if (pos + 2 > n) fail('jpeg: segment runs past the end');
    const length = u16be(b, pos);
    const end = pos + length;
    if (length < 2 || end > n) fail('jpeg: segment runs past the end');
    const data = pos + 2;
    if (marker === 0xda) {
      afterScan(b, start, end, out);
      return;
    }
    const name = marker >= 0xe0 && marker <= 0xef ? appName(b, marker, data, end) : marker === 0xfe ? 'COM' : null;
    if (name === null) {
      out.keep(start, end);
    } else if (name === 'APP1/Exif') {
      const minimal = orientationWritten ? null : minimalExif(b, data + EXIF_ID.length, end);
      if (minimal && minimal.length === end - pos + 2 && sameBytes(b, pos - 2, minimal)) {
        out.keep(start, end); // already the minimal orientation segment
      } else {
        out.drop(name);
        if (minimal) out.add(minimal);
      }
      if (minimal) orientationWritten = true;
    } else {
      out.drop(name);
    }
    pos = end;
  }
}

/**
 * From the first SOS on: entropy-coded data is copied verbatim (inside it 0xFF is always followed by 0x00 or RSTn, so
 * markers are found with a byte search, never by decoding). Segments between progressive scans are kept, except APPn
 * and COM, which are dropped there too; the image ends at its EOI and anything after it — MPF secondary images,
 * motion-photo videos, vendor trailers, which can carry their own metadata — is dropped ('trailing-data'). A file cut
 * short before its EOI is kept to its end (decoders show what there is; it has no trailer to hide metadata in).
 */
function afterScan(b: Uint8Array, sos: number, headerEnd: number, out: Output): void {
  const n = b.length;
  let from = sos; // start of the range not yet handed to `out`
  let p = headerEnd;
  for (;;) {
    const i = b.indexOf(0xff, p);
    if (i < 0 || i + 1 >= n) {
      out.keep(from, n);
      return;
    }
    const next = b[i + 1]!;
    if (next === 0x00 || next === 0xff || (next >= 0xd0 && next <= 0xd7)) {
      p = i + 1;
      continue;
    }
    if (next === 0xd9) {
      out.keep(from, i + 2);
      if (i + 2 < n) out.drop('trailing-data');
      return;
    }
    if (i + 4 > n) fail('jpeg: segment runs past the end');
    const end = i + 2 + u16be(b, i + 2);
    if (end > n || end < i + 4) fail('jpeg: segment runs past the end');
    if ((next >= 0xe0 && next <= 0xef) || next === 0xfe) {
      out.keep(from, i);
      out.drop(next === 0xfe ? 'COM' : `APP${next - 0xe0}`);
      from = end;
    }
    p = end; // DHT, DQT, DRI, SOS … kept (their bytes are copied with the next range); then the next scan's data
  }
}

/** null when the APPn segment is kept, else the name it is reported under. */
function appName(b: Uint8Array, marker: number, data: number, end: number): string | null {
  const id = (sig: string) => end - data >= sig.length && matches(b, data, sig);
  switch (marker) {
    case 0xe0:
      return null;
    case 0xe1:
      return id('Exif\0') ? 'APP1/Exif' : id(XMP_ID) ? 'APP1/XMP' : id(XMP_EXT_ID) ? 'APP1/XMP-extended' : 'APP1';
    case 0xe2:
      return id('ICC_PROFILE\0') ? null : id('MPF\0') ? 'APP2/MPF' : 'APP2';
    case 0xed:
      return 'APP13/Photoshop';
    case 0xee:
      return id('Adobe') ? null : 'APP14';
    default:
      return `APP${marker - 0xe0}`;
  }
}

/** The minimal Exif APP1 segment (marker included) carrying only IFD0's Orientation, or null when it has none in 2–8. */
function minimalExif(b: Uint8Array, tiff: number, end: number): Uint8Array | null {
  if (end - tiff < 8) return null;
  const little = matches(b, tiff, 'II');
  if (!little && !matches(b, tiff, 'MM')) return null;
  const r16 = (at: number) => (little ? b[at]! | (b[at + 1]! << 8) : u16be(b, at));
  const r32 = (at: number) => (little ? u32le(b, at) : u32be(b, at));
  if (r16(tiff + 2) !== 42) return null;
  const ifd = tiff + r32(tiff + 4);
  if (ifd + 2 > end || ifd < tiff + 8) return null;
  const count = r16(ifd);
  let orientation = 0;
  for (let i = 0; i < count; i++) {
    const e = ifd + 2 + i * 12;
    if (e + 12 > end) return null;
    if (r16(e) !== 0x0112) continue;
    const type = r16(e + 2);
    if (r32(e + 4) !== 1) return null;
    orientation = type === 3 ? r16(e + 8) : type === 4 ? r32(e + 8) : 0;
    break;
  }
  if (orientation < 2 || orientation > 8) return null;
  const seg = new Uint8Array(36);
  const v = new DataView(seg.buffer);
  v.setUint16(0, 0xffe1);
  v.setUint16(2, 34);
  for (let i = 0; i < 6; i++) seg[4 + i] = EXIF_ID.charCodeAt(i);
  const t = 10; // TIFF header: byte order, 42, IFD0 at 8; IFD0: 1 entry (0x0112 SHORT ×1), next IFD 0
  seg[t] = seg[t + 1] = little ? 0x49 : 0x4d;
  v.setUint16(t + 2, 42, little);
  v.setUint32(t + 4, 8, little);
  v.setUint16(t + 8, 1, little);
  v.setUint16(t + 10, 0x0112, little);
  v.setUint16(t + 12, 3, little);
  v.setUint32(t + 14, 1, little);
  v.setUint16(t + 18, orientation, little);
  return seg; // the value's padding and the next-IFD offset stay 0
}

const sameBytes = (b: Uint8Array, at: number, want: Uint8Array) => {
  for (let i = 0; i < want.length; i++) if (b[at + i] !== want[i]) return false;
  return true;
};

// ------------------------------------------------------------------------------------------------ PNG

const PNG_KEEP = new Set('IHDR PLTE IDAT IEND tRNS cHRM gAMA iCCP sBIT sRGB cICP mDCv cLLI bKGD hIST pHYs sPLT acTL fcTL fdAT'.split(' '));
const PNG_NAMED = new Set('tEXt zTXt iTXt eXIf tIME dSIG iDOT vpAg caNv orNT sTER oFFs pCAL sCAL gIFx gIFg'.split(' '));
const letter = (c: number) => (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);

function png(b: Uint8Array, out: Output): void {
  const n = b.length;
  if (!matches(b, 0, '\x89PNG\r\n\x1a\n')) fail('png: bad signature');
  out.keep(0, 8);
  let pos = 8;
  for (let first = true; ; first = false) {
    if (pos + 12 > n) fail('png: no IEND');
    const length = u32be(b, pos);
    if (length > 0x7fffffff || pos + 12 + length > n) fail('png: chunk runs past the end');
    for (let i = 4; i < 8; i++) if (!letter(b[pos + i]!)) fail('png: bad chunk type');
    const type = String.fromCharCode(b[pos + 4]!, b[pos + 5]!, b[pos + 6]!, b[pos + 7]!);
    if (first && type !== 'IHDR') fail('png: IHDR not first');
    const end = pos + 12 + length;
    if (PNG_KEEP.has(type)) out.keep(pos, end);
    else if (b[pos + 4]! & 0x20) out.drop(PNG_NAMED.has(type) ? type : 'PNG/ancillary');
    else fail('png: unknown critical chunk');
    pos = end;
    if (type === 'IEND') break;
  }
  if (pos < n) out.drop('trailing-data');
}

// ------------------------------------------------------------------------------------------------ RIFF (WebP, WAV)

const WEBP_KEEP = new Set(['VP8X', 'VP8 ', 'VP8L', 'ALPH', 'ANIM', 'ANMF', 'ICCP']);
const WAV_DROP = new Set(['LIST', 'id3 ', 'ID3 ', 'bext', 'iXML', 'axml', '_PMX', 'cart', 'DISP']);

function riff(b: Uint8Array, out: Output, form: 'WEBP' | 'WAVE'): void {
  const n = b.length;
  if (n < 12 || !matches(b, 0, 'RIFF') || !matches(b, 8, form)) fail('riff: bad header');
  const riffEnd = u32le(b, 4) + 8;
  if (riffEnd > n || riffEnd < 12) fail('riff: bad RIFF size');
  out.keep(0, 12);
  let pos = 12;
  while (pos < riffEnd) {
    if (pos + 8 > riffEnd) fail('riff: chunk runs past the end');
    const id = String.fromCharCode(b[pos]!, b[pos + 1]!, b[pos + 2]!, b[pos + 3]!);
    const size = u32le(b, pos + 4);
    let end = pos + 8 + size + (size & 1);
    if (end === riffEnd + 1 && size & 1) end = riffEnd; // a last odd chunk without its pad byte: tolerated
    if (end > riffEnd) fail('riff: chunk runs past the end');
    const keep = form === 'WEBP' ? WEBP_KEEP.has(id) : !WAV_DROP.has(id);
    if (!keep) {
      out.drop(id === 'EXIF' || id === 'XMP ' || WAV_DROP.has(id) ? `RIFF/${id.trim()}` : 'RIFF/other');
    } else if (id === 'VP8X' && size >= 1 && b[pos + 8]! & 0x0c) {
      const chunk = b.slice(pos, end); // the 18-byte header chunk, with the EXIF and XMP flags cleared
      chunk[8] = chunk[8]! & ~0x0c;
      out.add(chunk);
    } else {
      out.keep(pos, end);
    }
    pos = end;
  }
  if (riffEnd < n) out.drop('trailing-data');
  out.patch = (o) => new DataView(o.buffer, o.byteOffset, o.length).setUint32(4, o.length - 8, true);
}

// ------------------------------------------------------------------------------------------------ MP3

function mp3(b: Uint8Array, out: Output): void {
  let start = 0;
  let end = b.length;
  while (matches(b, start, 'ID3')) {
    start += 10 + id3Size(b, start) + (b[start + 5]! & 0x10 ? 10 : 0);
    if (start > end) fail('mp3: ID3v2 tag runs past the end');
    out.drop('ID3v2');
  }
  if (start > 0) while (start < end && b[start] === 0) start++;
  end = trailingTags(b, start, end, out);
  if (end - start < 2 || b[start] !== 0xff || (b[start + 1]! & 0xe0) !== 0xe0) fail('mp3: no frame sync');
  out.keep(start, end);
}

/**
 * Where the audio ends once the tags at its end are set aside (ID3v1 with TAG+, APEv2, Lyrics3 v2, an appended
 * ID3v2.4, in any order), each named in `out`. `start` bounds the search: a tag may not reach before it.
 */
function trailingTags(b: Uint8Array, start: number, end: number, out: Output): number {
  for (let changed = true; changed; ) {
    changed = false;
    if (end - start >= 128 && matches(b, end - 128, 'TAG')) {
      end -= 128;
      out.drop('ID3v1');
      if (end - start >= 227 && matches(b, end - 227, 'TAG+')) end -= 227;
      changed = true;
    }
    if (end - start >= 32 && matches(b, end - 32, 'APETAGEX')) {
      const size = u32le(b, end - 20);
      const total = size + (b[end - 9]! & 0x80 ? 32 : 0);
      if (size < 32 || total > end - start) fail('tags: APE tag runs past the start');
      end -= total;
      out.drop('APEv2');
      changed = true;
    }
    if (end - start >= 15 + 11 && matches(b, end - 9, 'LYRICS200')) {
      let size = 0;
      for (let i = end - 15; i < end - 9; i++) {
        const d = b[i]! - 0x30;
        if (d < 0 || d > 9) fail('tags: bad Lyrics3 size');
        size = size * 10 + d;
      }
      const total = size + 15;
      if (total > end - start || !matches(b, end - total, 'LYRICSBEGIN')) fail('tags: bad Lyrics3 tag');
      end -= total;
      out.drop('Lyrics3');
      changed = true;
    }
    if (end - start >= 20 && matches(b, end - 10, '3DI')) {
      const total = id3Size(b, end - 10) + 20; // header + body + footer
      if (total > end - start || !matches(b, end - total, 'ID3')) fail('tags: bad appended ID3v2 tag');
      end -= total;
      out.drop('ID3v2');
      changed = true;
    }
  }
  return end;
}

/** The syncsafe size of the ID3v2 header or footer at `at` (the bytes after those 10 and before a footer). */
function id3Size(b: Uint8Array, at: number): number {
  if (at < 0 || at + 10 > b.length) fail('mp3: ID3v2 tag runs past the end');
  let size = 0;
  for (let i = at + 6; i < at + 10; i++) {
    if (b[i]! & 0x80) fail('mp3: ID3v2 size is not syncsafe');
    size = size * 128 + b[i]!;
  }
  return size;
}

// ------------------------------------------------------------------------------------------------ FLAC

const FLAC_KEEP = new Set([0, 3, 5]); // STREAMINFO, SEEKTABLE, CUESHEET
const FLAC_NAMES = ['STREAMINFO', 'PADDING', 'APPLICATION', 'SEEKTABLE', 'VORBIS_COMMENT', 'CUESHEET', 'PICTURE'];

function flac(b: Uint8Array, out: Output): void {
  const n = b.length;
  if (!matches(b, 0, 'fLaC')) fail('flac: bad signature');
  out.keep(0, 4);
  const kept: [number, number][] = [];
  let pos = 4;
  for (let last = false; !last; ) {
    if (pos + 4 > n) fail('flac: metadata runs past the end');
    const header = b[pos]!;
    const type = header & 0x7f;
    last = (header & 0x80) !== 0;
    const end = pos + 4 + ((b[pos + 1]! << 16) | (b[pos + 2]! << 8) | b[pos + 3]!);
    if (type === 127 || end > n) fail('flac: bad metadata block');
    if ((pos === 4) !== (type === 0)) fail('flac: STREAMINFO not first');
    if (FLAC_KEEP.has(type)) kept.push([pos, end]);
    else out.drop(FLAC_NAMES[type] ?? 'FLAC/reserved');
    pos = end;
  }
  kept.forEach(([start, end], i) => {
    const flag = i === kept.length - 1 ? 0x80 : 0;
    if ((b[start]! & 0x80) === flag) return out.keep(start, end);
    out.add(Uint8Array.of((b[start]! & 0x7f) | flag, b[start + 1]!, b[start + 2]!, b[start + 3]!));
    out.keep(start + 4, end);
  });
  out.keep(pos, trailingTags(b, pos, n, out));
}
