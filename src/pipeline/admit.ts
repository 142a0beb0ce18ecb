// Step 3 + 5 of the pipeline in one ledger round trip: rate limit, Idempotency-Key check, credit hold.
import type { Ledger } from '../ledger';
import type { AdmitRequest, KeyRecord } from '../ledger/types';
import { ApiError, badRequest } from '../http/errors';
import { sha256Hex } from '../http/crypto';

export interface IdempotencyInput {
  key: string;
  /** What the key must keep meaning: a hash of route + body. */
  fingerprint: string;
}

/** How long an Idempotency-Key replays its first response. */
export const IDEMPOTENCY_TTL_SEC = 24 * 3600;

/** The Idempotency-Key of a request, bound to a digest of its body (the body itself is not kept). */
export async function idempotencyFrom(header: string | undefined, scope: string, bodyDigest: string): Promise<IdempotencyInput | undefined> {
  if (header === undefined) return undefined;
  const key = header.trim();
  if (!/^[\x21-\x7e]{1,255}$/.test(key)) throw badRequest('Idempotency-Key', 'Idempotency-Key must be 1-255 visible ASCII characters');
  return { key: `${scope}:${await sha256Hex(key)}`, fingerprint: await sha256Hex(`${scope}\n${bodyDigest}`) };
}

/**
 * Admits a request or throws the matching API error. Returns a stored response when the Idempotency-Key
 * was already completed (the caller replays it; nothing is charged again).
 */
export async function admit(
  ledger: Ledger,
  key: KeyRecord,
  opts: { hold?: AdmitRequest['hold']; idem?: IdempotencyInput; pendingTtlSec?: number; bucket?: string },
): Promise<string | null> {
  const idem = opts.idem && { key: opts.idem.key, fingerprint: opts.idem.fingerprint, pendingTtlSec: opts.pendingTtlSec ?? 300 };
  const r = await ledger.admit({
    account: key.account,
    keyId: opts.bucket ? `${key.keyId}:${opts.bucket}` : key.keyId,
    rpm: opts.bucket === 'read' ? key.rpm * READ_MULTIPLIER : key.rpm,
    now: Date.now(),
    hold: opts.hold,
    idem,
  });
  if (r.ok) return null;
  switch (r.reason) {
    case 'replay':
      return r.response;
    case 'rate_limited':
      throw new ApiError(429, 'rate_limit_exceeded', `Rate limit reached (${key.rpm} requests per minute); retry in ${r.retryAfterSec} s`, null, {
        'retry-after': String(r.retryAfterSec),
      });
    case 'insufficient':
      throw new ApiError(402, 'insufficient_quota', `Prepaid credits do not cover this request (needs ${opts.hold?.amount ?? 0} micro-USD, available ${r.availableMicro})`, null, {
        'x-should-retry': 'false',
      });
    case 'in_flight':
      throw new ApiError(409, 'idempotency_conflict', 'A request with this Idempotency-Key is still in progress; retry shortly', 'Idempotency-Key', { 'retry-after': '2' });
    case 'idem_mismatch':
      throw badRequest('Idempotency-Key', 'This Idempotency-Key was already used with a different request');
  }
}

/** Reads (polls, downloads) count in their own window at this multiple of the key's rpm. */
export const READ_MULTIPLIER = 10;
