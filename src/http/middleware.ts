import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { getConfig } from '../config';
import { getLedger } from '../ledger';
import type { AppEnv } from '../app-env';
import { authenticate } from './auth';
import { ApiError, errorResponse } from './errors';
import { randomId } from './crypto';

/** Request id on every response (errors included); also bound config and ledger for the handlers. */
export const context: MiddlewareHandler<AppEnv> = async (c, next) => {
  const id = `req_${randomId(12)}`;
  c.set('requestId', id);
  await next();
  c.res.headers.set('x-request-id', id);
};

export const configured: MiddlewareHandler<AppEnv> = async (c, next) => {
  const cfg = getConfig(c.env);
  c.set('cfg', cfg);
  c.set('ledger', getLedger(c.env, cfg));
  await next();
};

export const limitBody = (maxSize: number): MiddlewareHandler<AppEnv> =>
  bodyLimit({
    maxSize,
    onError: () => {
      throw new ApiError(413, 'payload_too_large', `The request body exceeds ${maxSize} bytes`);
    },
  });

/** Generation routes: every response says it is non-PHI, then the key is authenticated and the PHI gate applied. */
export const generation: MiddlewareHandler<AppEnv> = async (c, next) => {
  try {
    c.set('key', await authenticate(c.req.header('authorization'), c.get('cfg'), c.get('ledger')));
    if (isPhi(c.req.header('x-phi'))) {
      throw new ApiError(403, 'phi_blocked', 'PHI is not accepted: no generation provider is PHI-eligible. Send general (non-PHI) content only.');
    }
    await next();
  } catch (err) {
    c.res = errorResponse(err);
  }
  c.res.headers.set('x-phi-tier', 'non_phi');
};

export const customer: MiddlewareHandler<AppEnv> = async (c, next) => {
  c.set('key', await authenticate(c.req.header('authorization'), c.get('cfg'), c.get('ledger')));
  await next();
};

export function isPhi(value: string | undefined): boolean {
  return value !== undefined && /^(true|1|yes)$/i.test(value.trim());
}
