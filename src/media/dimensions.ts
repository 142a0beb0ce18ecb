// The pixel size an input image declares in its header (PNG IHDR, a JPEG's frame header, WebP VP8/VP8L/VP8X),
// read without decoding anything. Used where an edit's output size follows its input.

export interface Dimensions {
  width: number;
  height: number;
}

const ascii = (b: Uint8Array, at: number, s: string) => [...s].every((ch, i) => b[at + i] === ch.charCodeAt(0));
const be16 = (b: Uint8Array, at: number) => (b[at]! << 8) | b[at + 1]!;
const le16 = (b: Uint8Array, at: number) => b[at]! | (b[at + 1]! << 8);
const le24 = (b: Uint8Array, at: number) => b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16);

/** The declared width and height of a PNG, JPEG or WebP, or null when the header cannot be read. */
export function imageDimensions(b: Uint8Array): Dimensions | null {
  const out = (width: number, height: number) => (width > 0 && height > 0 ? { width, height } : null);
  if (b.length >= 24 && ascii(b, 0, '\x89PNG\r\n\x1a\n') && ascii(b, 12, 'IHDR')) {
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    return out(v.getUint32(16), v.getUint32(20));
  }
  if (b.length >= 4 && b[0] === 0xff && b[1] === 0xd8) return jpegDimensions(b, out);
  if (b.length >= 30 && ascii(b, 0, 'RIFF') && ascii(b, 8, 'WEBP')) {
    if (ascii(b, 12, 'VP8X')) return out(1 + le24(b, 24), 1 + le24(b, 27));
    if (ascii(b, 12, 'VP8L') && b[20] === 0x2f) {
      const v = (b[21]! | (b[22]! << 8) | (b[23]! << 16) | (b[24]! << 24)) >>> 0;
      return out(1 + (v & 0x3fff), 1 + ((v >>> 14) & 0x3fff));
    }
    if (ascii(b, 12, 'VP8 ') && b[23] === 0x9d && b[24] === 0x01 && b[25] === 0x2a) return out(le16(b, 26) & 0x3fff, le16(b, 28) & 0x3fff);
  }
  return null;
}

/** Walks the markers up to the first frame header (SOF0–SOF15 but DHT, JPG and DAC). */
function jpegDimensions(b: Uint8Array, out: (w: number, h: number) => Dimensions | null): Dimensions | null {
  let p = 2;
  while (p + 9 < b.length) {
    if (b[p] !== 0xff) return null;
    const m = b[p + 1]!;
    if (m === 0xff) {
      p++;
      continue;
    }
    if (m === 0x01 || (m >= 0xd0 && m <= 0xd8)) {
      p += 2;
      continue;
    }
    if (m === 0xd9 || m === 0xda) return null;
    if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) return out(be16(b, p + 7), be16(b, p + 5));
    p += 2 + be16(b, p + 2);
  }
  return null;
}
