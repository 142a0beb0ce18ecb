// Bounded reads: every body the gateway buffers has a cap enforced while it streams (nothing past the cap is
// held), an optional deadline (a body that stalls is a timeout), and a check that it was as long as declared.

export class BodyError extends Error {
  constructor(readonly reason: 'too_large' | 'short' | 'timeout' | 'broken') {
    super(reason);
  }
}

export interface ReadLimits {
  max: number;
  /** Epoch ms by which the whole body must have arrived. */
  deadline?: number;
}

/** Reads a whole body into one buffer (pre-sized when Content-Length is known); throws BodyError. */
export async function readCapped(res: Response, limits: ReadLimits): Promise<Uint8Array> {
  const declared = declaredLength(res);
  if (declared !== null && declared > limits.max) {
    await res.body?.cancel().catch(() => {});
    throw new BodyError('too_large');
  }
  if (!res.body) return new Uint8Array(0);
  const reader = res.body.getReader();
  let buf = new Uint8Array(declared ?? Math.min(limits.max, 64 * 1024));
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await readBefore(reader, limits.deadline);
      if (done) break;
      if (size + value.length > limits.max || (declared !== null && size + value.length > declared)) throw new BodyError('too_large');
      if (size + value.length > buf.length) {
        const grown = new Uint8Array(Math.min(limits.max, Math.max(size + value.length, buf.length * 2)));
        grown.set(buf.subarray(0, size));
        buf = grown;
      }
      buf.set(value, size);
      size += value.length;
    }
  } catch (err) {
    await reader.cancel().catch(() => {});
    if (err instanceof BodyError) throw err;
    const aborted = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
    throw new BodyError(aborted ? 'timeout' : 'broken');
  }
  if (declared !== null && size < declared) throw new BodyError('short');
  return buf.subarray(0, size);
}

/** Content-Length when it is trustworthy (absent under a content-encoding, which it does not describe). */
export function declaredLength(res: Response): number | null {
  if (res.headers.has('content-encoding')) return null;
  const raw = res.headers.get('content-length');
  if (raw === null || !/^\d{1,15}$/.test(raw)) return null;
  return Number(raw);
}

/** One read, failing with a timeout when the deadline passes first. */
export function readBefore<T>(reader: ReadableStreamDefaultReader<T>, deadline?: number): Promise<ReadableStreamReadResult<T>> {
  if (deadline === undefined) return reader.read();
  const left = deadline - Date.now();
  if (left <= 0) return Promise.reject(new BodyError('timeout'));
  let cancel = () => {};
  const timeout = new Promise<never>((_, reject) => {
    const timer = setTimeout(() => reject(new BodyError('timeout')), left);
    cancel = () => clearTimeout(timer);
  });
  const read = reader.read();
  // When the deadline wins, the pending read later rejects (the stream is cancelled): that is expected, not unhandled.
  read.catch(() => {});
  return Promise.race([read, timeout]).finally(cancel);
}

/** Reads a JSON body under a cap; anything unreadable is a BodyError('broken'). */
export async function readJsonCapped(res: Response, limits: ReadLimits): Promise<unknown> {
  const declared = declaredLength(res);
  let text: string;
  if (declared !== null && declared <= limits.max) {
    // A declared length within the cap: the runtime reads exactly that much (no JS chunk loop); a stall ends with
    // the fetch's own deadline (its AbortSignal), as a timeout.
    text = await res.text().catch((err: unknown) => {
      throw new BodyError(err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError') ? 'timeout' : 'broken');
    });
  } else {
    text = new TextDecoder().decode(await readCapped(res, limits));
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new BodyError('broken');
  }
}
