// Re-hosting outputs in R2 under unguessable keys, streamed with a known length (no whole-file buffering).
import { upstreamError } from '../http/errors';

export interface StoredMedia {
  key: string;
  size: number;
  contentType: string;
}

/** Largest body accepted without a Content-Length (it must be buffered to learn its length). */
const MAX_UNSIZED = 64 * 1024 * 1024;

export async function putMedia(bucket: R2Bucket, key: string, res: Response, account: string, fallbackType: string): Promise<StoredMedia> {
  if (!res.ok || !res.body) throw upstreamError(`The output could not be fetched for re-hosting (HTTP ${res.status})`);
  const contentType = res.headers.get('content-type')?.split(';')[0] || fallbackType;
  const declared = Number(res.headers.get('content-length'));
  let body: ReadableStream | ArrayBuffer;
  let size: number;
  if (Number.isSafeInteger(declared) && declared > 0 && !res.headers.has('content-encoding')) {
    const fixed = new FixedLengthStream(declared);
    void res.body.pipeTo(fixed.writable).catch(() => {});
    body = fixed.readable;
    size = declared;
  } else {
    body = await res.arrayBuffer();
    size = body.byteLength;
    if (size > MAX_UNSIZED) throw upstreamError('The output is too large to re-host without a known length');
  }
  try {
    await bucket.put(key, body, {
      httpMetadata: { contentType, cacheControl: 'private, max-age=0' },
      customMetadata: { account, size: String(size) },
    });
  } catch {
    throw upstreamError('The output could not be re-hosted');
  }
  return { key, size, contentType };
}

/** Serves an R2 object with Range (206), If-None-Match (304), ETag and private caching. */
export async function serveMedia(bucket: R2Bucket, key: string, req: Request): Promise<Response | null> {
  const head = await bucket.head(key);
  if (!head) return null;
  const headers = new Headers({ 'accept-ranges': 'bytes', 'cache-control': 'private, max-age=0', etag: head.httpEtag });
  head.writeHttpMetadata(headers);
  headers.set('cache-control', 'private, max-age=0');
  const inm = req.headers.get('if-none-match');
  if (inm && inm.split(',').some((t) => t.trim() === head.httpEtag || t.trim() === '*')) {
    return new Response(null, { status: 304, headers });
  }
  const range = parseRange(req.headers.get('range'), head.size);
  if (range === 'unsatisfiable') {
    headers.set('content-range', `bytes */${head.size}`);
    return new Response(null, { status: 416, headers });
  }
  const obj = await bucket.get(key, range ? { range } : {});
  if (!obj || !('body' in obj)) return null;
  if (range) {
    headers.set('content-range', `bytes ${range.offset}-${range.offset + range.length - 1}/${head.size}`);
    headers.set('content-length', String(range.length));
    return new Response(obj.body, { status: 206, headers });
  }
  headers.set('content-length', String(head.size));
  return new Response(req.method === 'HEAD' ? null : obj.body, { status: 200, headers });
}

/** Streams a provider file to the customer under our own headers (never the provider's URL or cookies). */
export function proxyFile(upstream: Response, contentType: string, head: boolean): Response {
  const headers = new Headers({ 'content-type': contentType, 'cache-control': 'private, max-age=0', 'accept-ranges': 'bytes' });
  for (const h of ['content-length', 'content-range', 'etag', 'last-modified']) {
    const v = upstream.headers.get(h);
    if (v) headers.set(h, v);
  }
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
