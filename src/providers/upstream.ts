import { ApiError, upstreamError, upstreamTimeout } from '../http/errors';

/** fetch with a deadline; network failures and timeouts become mapped 5xx errors (nothing is charged). */
export async function upstreamFetch(url: string, init: RequestInit, timeoutMs: number, doFetch: typeof fetch = fetch): Promise<Response> {
  try {
    return await doFetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    if (err instanceof ApiError) throw err;
    if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) throw upstreamTimeout();
    throw upstreamError('The provider could not be reached');
  }
}

export async function readJsonBody(res: Response): Promise<unknown> {
  try {
    return await res.json();
  } catch {
    throw upstreamError('The provider returned an unreadable response');
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
