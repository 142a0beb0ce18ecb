import type { Context, MiddlewareHandler } from 'hono';
import { getConfig, residency, type Config } from '../config';
import { getLedger } from '../ledger';
import type { AppEnv } from '../app-env';
import { authenticate } from './auth';
import { readBefore } from './body';
import { ApiError, PHI_NOT_ACCEPTED, PhiBlocked } from './errors';
import { randomId } from './crypto';
import { logRequest } from './log';

/**
 * Request id on every response (errors included), and the one log line per request. A body nobody read — a GET
 * or a route that takes none, an answer given before the body (401, 404) — is read and dropped before the answer
 * goes out (up to 1 MiB; past that it is cancelled): a client that sent one keeps a usable connection.
 */
export const context: MiddlewareHandler<AppEnv> = async (c, next) => {
  const id = `req_${randomId(12)}`;
  const started = performance.now();
  const raw = c.req.raw;
  c.set('requestId', id);
  await next();
  if (raw.body && !raw.bodyUsed && !raw.body.locked) await discardBody(raw);
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
 * Caps the request body. Nothing past the cap is kept in memory: a chunked body is buffered only up to the cap.
 * An oversized body is still read to its end and discarded (up to DRAIN_MAX bytes / DRAIN_MS) before the 413 is
 * sent: a proxy in front — wrangler dev's among them — breaks when answered before it has finished sending, and the
 * 413 must arrive with the server still serving. Beyond those bounds the body is cancelled.
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
        await drain(body.getReader(), Number(length) <= DRAIN_MAX ? DRAIN_MAX : 0);
        throw tooLarge(limit);
      }
      return next();
    }
    const reader = body.getReader();
    let buf = new Uint8Array(Math.min(limit, 64 * 1024));
    let size = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (size + value.length > limit) {
        await drain(reader, DRAIN_MAX - size - value.length);
        throw tooLarge(limit);
      }
      if (size + value.length > buf.length) {
        const grown = new Uint8Array(Math.min(limit, Math.max(size + value.length, buf.length * 2)));
        grown.set(buf.subarray(0, size));
        buf = grown;
      }
      buf.set(value, size);
      size += value.length;
    }
    c.req.raw = new Request(c.req.raw, { body: buf.subarray(0, size) });
    return next();
  };

/** Every generation response says it is non-PHI and where its data lives — errors (413, 401, 404 …) included. */
export const phiTier: MiddlewareHandler<AppEnv> = async (c, next) => {
  await next();
  c.res.headers.set('x-phi-tier', 'non_phi');
  const cfg = c.get('cfg');
  if (cfg) c.res.headers.set('x-phi-region', regionOf(cfg));
};

const regions = new WeakMap<Config, string>();
const regionOf = (cfg: Config): string => {
  let r = regions.get(cfg);
  if (r === undefined) regions.set(cfg, (r = residency(cfg).region));
  return r;
};

const phiBlocked = () => new PhiBlocked('X-PHI', 'header', PHI_NOT_ACCEPTED);

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

/** How much of an oversized body is read and thrown away before answering 413, and for how long at most. */
const DRAIN_MAX = 32 * 1024 * 1024;
const DRAIN_MS = 10_000;

/** Answering early: reads and drops up to 1 MiB of an unread body (wrangler dev needs the body read), then cancels. */
export async function discardBody(req: Request): Promise<void> {
  if (req.body && !req.bodyUsed) await drain(req.body.getReader(), 1024 * 1024);
}

/** Reads and discards up to `max` more bytes; past that (or DRAIN_MS) the stream is cancelled. */
async function drain(reader: ReadableStreamDefaultReader<Uint8Array>, max: number): Promise<void> {
  const deadline = Date.now() + DRAIN_MS;
  let left = max;
  try {
    while (left > 0) {
      const { done, value } = await readBefore(reader, deadline);
      if (done) return;
      left -= value.length;
    }
  } catch {
    /* stalled or gone */
  }
  await reader.cancel().catch(() => {});
}
