import type * as z from 'zod/mini';
import { BodyError, readJsonCapped } from '../http/body';
import { ApiError, upstreamError, upstreamTimeout } from '../http/errors';
import { connectionFailure, UpstreamError } from './retry';

/** Largest JSON document accepted from a provider. */
export const MAX_UPSTREAM_JSON = 4 * 1024 * 1024;

const isAbort = (err: unknown) => err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');

/**
 * fetch with a deadline; network failures and timeouts become mapped 5xx errors (nothing is charged), classified for
 * the retry loop: a connection that failed at once may be retried, a timeout or a late drop may not (src/providers/retry.ts).
 */
export async function upstreamFetch(url: string, init: RequestInit, timeoutMs: number, doFetch: typeof fetch = fetch): Promise<Response> {
  const startedAt = Date.now();
  try {
    return await doFetch(url, { ...init, signal: AbortSignal.timeout(Math.max(1, timeoutMs)) });
  } catch (err) {
    if (err instanceof ApiError) throw err;
    if (isAbort(err)) throw new UpstreamError(upstreamTimeout(), false, 'down');
    throw connectionFailure(startedAt);
  }
}

/** Redirect hops followed at most, each one re-checked against the same rules as the first address. */
export const MAX_REDIRECTS = 3;

/**
 * GET that follows redirects only to addresses `allowed` accepts (at most MAX_REDIRECTS hops); null when a hop
 * is refused. Network errors are thrown as they come (callers map them).
 */
export async function fetchFollowing(url: URL, allowed: (u: string) => URL | null, init: RequestInit, doFetch: typeof fetch = fetch): Promise<Response | null> {
  let current = url;
  for (let hop = 0; ; hop++) {
    const res = await doFetch(current.href, { ...init, redirect: 'manual' });
    if (res.status < 300 || res.status > 399 || res.status === 304) return res;
    await res.body?.cancel().catch(() => {});
    const location = res.headers.get('location');
    if (hop >= MAX_REDIRECTS || !location) return null;
    let next: URL;
    try {
      next = new URL(location, current);
    } catch {
      return null;
    }
    const ok = allowed(next.href);
    if (!ok) return null;
    current = ok;
  }
}

/** Reads a provider's JSON under MAX_UPSTREAM_JSON: too large, broken or stalled bodies are 502/504. */
export async function readJsonBody(res: Response, deadline?: number): Promise<unknown> {
  try {
    return await readJsonCapped(res, { max: MAX_UPSTREAM_JSON, deadline });
  } catch (err) {
    throw upstreamBodyError(err);
  }
}

/** Maps a failed body read to the customer-facing error (a stall is a timeout, anything else a 502). */
export function upstreamBodyError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if ((err instanceof BodyError && err.reason === 'timeout') || isAbort(err)) return upstreamTimeout();
  return upstreamError('The provider returned an unreadable response');
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Validates what a provider returned; any other shape is a 502 (never a 500 from a property access). */
export function expectShape<T extends z.ZodMiniType>(schema: T, value: unknown): z.infer<T> {
  const r = schema.safeParse(value);
  if (!r.success) throw upstreamError('The provider returned an unexpected response');
  return r.data;
}
