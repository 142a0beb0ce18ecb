// Reads an MP4's duration (moov/mvhd) with a few small range reads, so video is billed for what was delivered.

/** Reads `length` bytes at `offset` (fewer at the end of the file); null when unreadable. */
export type ReadAt = (offset: number, length: number) => Promise<Uint8Array | null>;

const MAX_MOOV = 8 * 1024 * 1024;
const MAX_BOXES = 64;

const u32 = (b: Uint8Array, i: number) => ((b[i]! << 24) >>> 0) + (b[i + 1]! << 16) + (b[i + 2]! << 8) + b[i + 3]!;
const u64 = (b: Uint8Array, i: number) => u32(b, i) * 2 ** 32 + u32(b, i + 4);
const type = (b: Uint8Array, i: number) => String.fromCharCode(b[i]!, b[i + 1]!, b[i + 2]!, b[i + 3]!);

/** Duration in milliseconds from the movie header, or null when the file has none we can read. */
export async function mp4DurationMs(read: ReadAt): Promise<number | null> {
  let offset = 0;
  for (let n = 0; n < MAX_BOXES; n++) {
    const head = await read(offset, 16);
    if (!head || head.length < 8) return null;
    let size = u32(head, 0);
    const kind = type(head, 4);
    let header = 8;
    if (size === 1) {
      if (head.length < 16) return null;
      size = u64(head, 8);
      header = 16;
    }
    if (kind === 'moov') {
      if (size === 0 || size > MAX_MOOV) return null;
      const moov = await read(offset + header, size - header);
      return moov ? mvhdDuration(moov) : null;
    }
    if (size < header) return null; // size 0 ("to end of file") before moov: no movie header to find
    offset += size;
  }
  return null;
}

function mvhdDuration(moov: Uint8Array): number | null {
  for (let i = 0; i + 8 <= moov.length; ) {
    const size = u32(moov, i);
    if (type(moov, i + 4) === 'mvhd') {
      const v = moov[i + 8];
      const [scale, dur] = v === 1 ? [u32(moov, i + 28), u64(moov, i + 32)] : [u32(moov, i + 20), u32(moov, i + 24)];
      return scale > 0 ? Math.round((dur * 1000) / scale) : null;
    }
    if (size < 8) return null;
    i += size;
  }
  return null;
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
