import type { Context, MiddlewareHandler } from 'hono';
import { getConfig } from '../config';
import { getLedger } from '../ledger';
import type { AppEnv } from '../app-env';
import { authenticate } from './auth';
import { BodyError, readCapped } from './body';
import { ApiError } from './errors';
import { randomId } from './crypto';
import { logRequest } from './log';

/** Request id on every response (errors included), and the one log line per request. */
export const context: MiddlewareHandler<AppEnv> = async (c, next) => {
  const id = `req_${randomId(12)}`;
  const started = performance.now();
  c.set('requestId', id);
  await next();
  c.res.headers.set('x-request-id', id);
  logRequest(c, performance.now() - started);
};

export const configured: MiddlewareHandler<AppEnv> = async (c, next) => {
  const cfg = getConfig(c.env);
  c.set('cfg', cfg);
  c.set('ledger', getLedger(c.env, cfg));
  await next();
};

const tooLarge = (max: number) => new ApiError(413, 'payload_too_large', `The request body exceeds ${max} bytes`);

/**
 * Caps the request body. A declared length over the cap is refused unread; a chunked body is read into memory
 * only up to the cap, and reading stops (the stream is cancelled) the moment it passes it.
 */
export const limitBody =
  (max: number | ((c: Context<AppEnv>) => number)): MiddlewareHandler<AppEnv> =>
  async (c, next) => {
    const body = c.req.raw.body;
    if (!body) return next();
    const limit = typeof max === 'number' ? max : max(c);
    const length = c.req.raw.headers.has('transfer-encoding') ? null : c.req.raw.headers.get('content-length');
    if (length !== null) {
      if (Number(length) > limit) {
        await body.cancel().catch(() => {});
        throw tooLarge(limit);
      }
      return next();
    }
    let bytes: Uint8Array;
    try {
      bytes = await readCapped(new Response(body), { max: limit });
    } catch (err) {
      if (err instanceof BodyError && err.reason === 'too_large') throw tooLarge(limit);
      throw err;
    }
    c.req.raw = new Request(c.req.raw, { body: bytes });
    return next();
  };

/** Every generation response says it is non-PHI — errors (413, 401, 404 …) included. */
export const phiTier: MiddlewareHandler<AppEnv> = async (c, next) => {
  await next();
  c.res.headers.set('x-phi-tier', 'non_phi');
};

const phiBlocked = () =>
  new ApiError(403, 'phi_blocked', 'PHI is not accepted: no generation provider is PHI-eligible. Send general (non-PHI) content only.', 'X-PHI');

/** Generation routes: the key is authenticated, then the PHI gate applied — before any store write or upstream call. */
export const generation: MiddlewareHandler<AppEnv> = async (c, next) => {
  c.set('key', await authenticate(c.req.header('authorization'), c.get('cfg'), c.get('ledger')));
  if (isPhi(c.req.header('x-phi'))) throw phiBlocked();
  await next();
};

export const customer: MiddlewareHandler<AppEnv> = async (c, next) => {
  c.set('key', await authenticate(c.req.header('authorization'), c.get('cfg'), c.get('ledger')));
  await next();
};

/**
 * The PHI gate fails closed: only an explicit "no" lets a request through — the header absent or empty, or
 * `false` / `0` / `no` (trimmed, any case). Anything else — `true`, a typo, or a repeated header joined into a
 * comma list such as "false, true" — is treated as PHI.
 */
export function isPhi(value: string | undefined | null): boolean {
  const v = (value ?? '').trim().toLowerCase();
  return !(v === '' || v === 'false' || v === '0' || v === 'no');
}
