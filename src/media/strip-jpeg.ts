// JPEG metadata removal (see src/media/strip.ts): APPn / COM segments dropped up to the first scan and between scans,
// bytes after EOI dropped, an Exif orientation kept as a minimal APP1.
import { fail, matches, type Output, u16be, u32be, u32le } from './strip-output';

const EXIF_ID = 'Exif\0\0'; // recognised by its first 5 bytes: some cameras write 'Exif\0\xff'
const XMP_ID = 'http://ns.adobe.com/xap/1.0/\0';
const XMP_EXT_ID = 'http://ns.adobe.com/xmp/extension/\0';

export function jpeg(b: Uint8Array, out: Output): void {
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
