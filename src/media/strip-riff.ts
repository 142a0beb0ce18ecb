// RIFF metadata removal for WebP and WAV (see src/media/strip.ts): chunks dropped by form, VP8X flags cleared, the
// RIFF size rewritten.
import { fail, matches, type Output, u32le } from './strip-output';

const WEBP_KEEP = new Set(['VP8X', 'VP8 ', 'VP8L', 'ALPH', 'ANIM', 'ANMF', 'ICCP']);
const WAV_DROP = new Set(['LIST', 'id3 ', 'ID3 ', 'bext', 'iXML', 'axml', '_PMX', 'cart', 'DISP']);

export function riff(b: Uint8Array, out: Output, form: 'WEBP' | 'WAVE'): void {
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
