// FLAC metadata removal (see src/media/strip.ts): metadata blocks but STREAMINFO, SEEKTABLE and CUESHEET dropped,
// the last-block flag moved, appended tags dropped.
import { fail, matches, type Output } from './strip-output';
import { trailingTags } from './strip-mp3';

const FLAC_KEEP = new Set([0, 3, 5]); // STREAMINFO, SEEKTABLE, CUESHEET
const FLAC_NAMES = ['STREAMINFO', 'PADDING', 'APPLICATION', 'SEEKTABLE', 'VORBIS_COMMENT', 'CUESHEET', 'PICTURE'];

export function flac(b: Uint8Array, out: Output): void {
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
