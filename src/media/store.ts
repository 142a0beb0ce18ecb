// Re-hosting outputs in R2 under unguessable keys, streamed with a known length (no whole-file buffering), and
// serving them (or proxied worker files) from the gateway's origin: only image/video types recognised from the
// bytes themselves, always with `nosniff` and a sandboxing CSP. Every object carries its retention end and is not
// served past it (src/jobs/retention.ts deletes it then).
import { BodyError, declaredLength, readCapped } from '../http/body';
import { ApiError, upstreamError } from '../http/errors';
import { upstreamBodyError } from '../providers/upstream';
import { UnusableOutput } from '../providers/unusable';
import { mediaHeaders, SERVABLE, sniff, SNIFF_BYTES, type MediaKind } from './sniff';

const MiB = 1024 * 1024;

/** Largest output accepted, by kind (streamed, so this bounds time and storage, not memory). */
export const MAX_OUTPUT: Record<'image' | 'video', number> = { image: 32 * MiB, video: 512 * MiB };
/** Largest output accepted without a Content-Length: it has to be buffered to learn its length. */
export const MAX_UNSIZED = 8 * MiB;

export interface StoredMedia {
  key: string;
  size: number;
  contentType: string;
  /** When the gateway deletes it (epoch ms): its retention end. */
  expires: number;
}

/**
 * An object's retention end (epoch ms): what it was written with (`customMetadata.expires`), never later than
 * written + the retention configured now (so a shortened MEDIA_RETENTION_HOURS applies to what is stored already);
 * objects written before retention was recorded count from their upload time.
 */
export function expiresOf(obj: R2Object, retentionMs: number): number {
  const byConfig = obj.uploaded.getTime() + retentionMs;
  const stamped = Number(obj.customMetadata?.expires);
  return Number.isFinite(stamped) && stamped > 0 ? Math.min(stamped, byConfig) : byConfig;
}

/** How serveMedia enforces retention: past its end an object is gone (null) and deleted in the background. */
export interface Retention {
  retentionMs: number;
  exec?: ExecutionContext;
  now?: number;
}

/** Deletes an object past its retention, after the answer when an execution context is there. */
export function dropExpired(bucket: R2Bucket, key: string, exec?: ExecutionContext): Promise<void> {
  const gone = bucket.delete(key).catch(() => {});
  if (exec) {
    exec.waitUntil(gone);
    return Promise.resolve();
  }
  return gone;
}

// Final, not transient (src/providers/unusable.ts): a video job with such an output ends failed, unbilled.
const notMedia = () => new UnusableOutput('The provider returned a file that is not an image or video', 'the file is not a video');

/**
 * Reads the first bytes of a body for sniffing, then streams head + the rest into `sink` with the rest piped
 * natively (no JS per chunk). `check` sees the head before anything is written; if it throws, the body is cancelled.
 */
async function sniffThenPipe(body: ReadableStream<Uint8Array>, n: number, check: (head: Uint8Array) => void, sink: WritableStream<Uint8Array>): Promise<void> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let got = 0;
  while (got < n) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    got += value.length;
  }
  const head = chunks.length === 1 ? chunks[0]! : concat(chunks, got);
  try {
    check(head);
  } catch (err) {
    await reader.cancel().catch(() => {});
    throw err;
  }
  reader.releaseLock();
  const writer = sink.getWriter();
  void writer.write(head).catch(() => {});
  writer.releaseLock();
  void body.pipeTo(sink).catch(() => {});
}

function concat(chunks: Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** The type of an output by its first bytes, which must be the expected kind and servable. */
function typeOf(head: Uint8Array, kind: Extract<MediaKind, 'image' | 'video'>): string {
  const found = sniff(head);
  if (!found || found.kind !== kind || !SERVABLE.has(found.type)) throw notMedia();
  return found.type;
}

/**
 * Streams a provider file into R2 under `keyFor(ext)`: typed by its bytes, capped by kind, with a known length
 * (Content-Length, or a bounded buffer when there is none), stamped with its retention end `expires` (epoch ms).
 * Any failure is a 502 (nothing is charged upstream of it).
 */
export async function putMedia(
  bucket: R2Bucket,
  res: Response,
  kind: 'image' | 'video',
  keyFor: (ext: string) => string,
  account: string,
  expires: number,
): Promise<StoredMedia> {
  if (!res.ok || !res.body) {
    await res.body?.cancel().catch(() => {});
    throw upstreamError(`The output could not be fetched for re-hosting (HTTP ${res.status})`);
  }
  const declared = declaredLength(res);
  let size: number;
  let body: ReadableStream<Uint8Array> | Uint8Array;
  let contentType: string;
  if (declared !== null) {
    if (declared === 0 || declared > MAX_OUTPUT[kind]) {
      await res.body.cancel().catch(() => {});
      throw new UnusableOutput('The output is too large to re-host', declared === 0 ? 'the file is empty' : `the file exceeds the ${MAX_OUTPUT[kind] / MiB} MiB size cap`);
    }
    const fixed = new FixedLengthStream(declared);
    let type = '';
    await sniffThenPipe(res.body, SNIFF_BYTES, (head) => (type = typeOf(head, kind)), fixed.writable);
    contentType = type;
    body = fixed.readable;
    size = declared;
  } else {
    try {
      body = await readCapped(res, { max: MAX_UNSIZED });
    } catch (err) {
      throw err instanceof BodyError && err.reason === 'too_large'
        ? new UnusableOutput('The output is too large to re-host without a known length', `the file has no length and exceeds ${MAX_UNSIZED / MiB} MiB`)
        : upstreamBodyError(err);
    }
    contentType = typeOf(body.subarray(0, SNIFF_BYTES), kind);
    size = body.byteLength;
  }
  const key = keyFor(extensionOf(contentType));
  try {
    await bucket.put(key, body, {
      httpMetadata: { contentType, cacheControl: 'private, max-age=0' },
      customMetadata: { account, size: String(size), expires: String(expires) },
    });
  } catch {
    throw upstreamError('The output could not be re-hosted');
  }
  return { key, size, contentType, expires };
}

const EXT: Record<string, string> = { 'image/png': 'png', 'image/jpeg': 'jpg', 'image/webp': 'webp', 'image/gif': 'gif', 'video/mp4': 'mp4', 'video/webm': 'webm', 'video/quicktime': 'mov' };
export const extensionOf = (type: string) => EXT[type] ?? 'bin';

/**
 * Serves an R2 object with Range (206), If-None-Match (304), ETag and private caching. An object past its retention
 * end is gone: null (a 404 for the caller), and it is deleted in the background.
 */
export async function serveMedia(bucket: R2Bucket, key: string, req: Request, onOwner: ((account: string) => void) | undefined, retention: Retention): Promise<Response | null> {
  const head = await bucket.head(key);
  if (!head) return null;
  if (expiresOf(head, retention.retentionMs) <= (retention.now ?? Date.now())) {
    await dropExpired(bucket, key, retention.exec);
    return null;
  }
  if (onOwner && head.customMetadata?.account) onOwner(head.customMetadata.account);
  const type = head.httpMetadata?.contentType ?? '';
  if (!SERVABLE.has(type)) return null;
  const headers = mediaHeaders(type);
  headers.set('etag', head.httpEtag);
  const inm = req.headers.get('if-none-match');
  if (inm && inm.split(',').some((t) => t.trim() === head.httpEtag || t.trim() === '*')) {
    return new Response(null, { status: 304, headers });
  }
  const range = parseRange(req.headers.get('range'), head.size);
  if (range === 'unsatisfiable') throw rangeNotSatisfiable(head.size);
  const obj = await bucket.get(key, range ? { range } : {});
  if (!obj || !('body' in obj)) return null;
  if (range) {
    headers.set('content-range', `bytes ${range.offset}-${range.offset + range.length - 1}/${head.size}`);
    headers.set('content-length', String(range.length));
    return new Response(req.method === 'HEAD' ? null : obj.body, { status: 206, headers });
  }
  headers.set('content-length', String(head.size));
  return new Response(req.method === 'HEAD' ? null : obj.body, { status: 200, headers });
}

/** 416 in the error envelope, with the size the client should have asked within. */
export const rangeNotSatisfiable = (size: number | null) =>
  new ApiError(416, 'range_not_satisfiable', 'The requested range is outside the file', 'Range', { 'content-range': `bytes */${size ?? '*'}` });

/**
 * Streams a provider file to the customer under our own headers (never the provider's URL or cookies). The type
 * must be a servable image/video type; a 416 from the upstream is answered in the envelope.
 */
export function proxyFile(upstream: Response, contentType: string, head: boolean): Response {
  if (upstream.status === 416) {
    void upstream.body?.cancel().catch(() => {});
    const total = upstream.headers.get('content-range')?.match(/\/(\d+)$/)?.[1];
    throw rangeNotSatisfiable(total ? Number(total) : null);
  }
  if (!SERVABLE.has(contentType)) {
    void upstream.body?.cancel().catch(() => {});
    throw notMedia();
  }
  const headers = mediaHeaders(contentType);
  for (const h of ['content-length', 'content-range', 'etag', 'last-modified']) {
    const v = upstream.headers.get(h);
    if (v) headers.set(h, v);
  }
  if (head) void upstream.body?.cancel().catch(() => {});
  return new Response(head ? null : upstream.body, { status: upstream.status, headers });
}

/** A single `bytes=` range (the form video players send); multi-range requests get the whole object. */
export function parseRange(header: string | null, size: number): { offset: number; length: number } | 'unsatisfiable' | null {
  const m = header?.match(/^bytes=(\d*)-(\d*)$/);
  if (!m || (!m[1] && !m[2])) return null;
  let start: number;
  let end: number;
  if (!m[1]) {
    const suffix = Number(m[2]);
    if (suffix === 0) return 'unsatisfiable';
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] ? Math.min(Number(m[2]), size - 1) : size - 1;
  }
  if (start >= size || end < start) return 'unsatisfiable';
  return { offset: start, length: end - start + 1 };
}

/** Random access to an R2 object, for probing a re-hosted file. */
export function r2ReadAt(bucket: R2Bucket, key: string): (offset: number, length: number) => Promise<Uint8Array | null> {
  let size: Promise<number | null> | undefined;
  return async (offset, length) => {
    size ??= bucket.head(key).then((h) => h?.size ?? null);
    const total = await size;
    if (total === null || offset >= total) return null;
    const obj = await bucket.get(key, { range: { offset, length: Math.min(length, total - offset) } });
    return obj ? new Uint8Array(await obj.arrayBuffer()) : null;
  };
}
