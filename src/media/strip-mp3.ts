// MP3 metadata removal (see src/media/strip.ts): leading ID3v2 tags, and the tags appended after the audio (also
// used for FLAC).
import { fail, matches, type Output, u32le } from './strip-output';

export function mp3(b: Uint8Array, out: Output): void {
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
export function trailingTags(b: Uint8Array, start: number, end: number, out: Output): number {
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
