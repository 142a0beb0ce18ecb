// Step 3 + 5 of the pipeline in one ledger round trip: rate limit, Idempotency-Key check, and the charge (images)
// or the hold (video).
import type { Charge, Hold, JobPage, JobRecord } from '../ledger/types';
import { ApiError, badRequest, storeUnavailable } from '../http/errors';
import { sha256Hex } from '../http/crypto';
import type { Ctx } from './context';
import { admitOrReverse } from './money';
import { budgetCheck, periodOf } from '../ledger/budget';
import { takeSamples } from './trace';

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
export async function admit(ctx: Ctx, opts: { charge?: Charge; hold?: Hold; idem?: IdempotencyInput; pendingTtlSec?: number; model?: string; now?: number }): Promise<string | null> {
  const r = await call(ctx, opts);
  return r.ok ? null : r.response;
}

/** A read (poll, download): its own rate bucket, and the job's record in the same ledger call. */
export async function readJob(ctx: Ctx, jobKey: string): Promise<JobRecord | null> {
  const r = await call(ctx, { bucket: 'read', lookup: jobKey });
  return r.ok ? r.job : null;
}

/** A list (GET /v1/videos): the read's rate limit and a page of the account's jobs in the same ledger call. */
export async function listPage(ctx: Ctx, page: JobPage): Promise<{ jobs: JobRecord[]; hasMore: boolean }> {
  const r = await call(ctx, { bucket: 'read', list: page });
  return r.ok ? { jobs: r.jobs, hasMore: r.hasMore } : { jobs: [], hasMore: false };
}

async function call(
  ctx: Ctx,
  opts: { charge?: Charge; hold?: Hold; idem?: IdempotencyInput; pendingTtlSec?: number; bucket?: 'read'; lookup?: string; list?: JobPage; model?: string; now?: number },
): Promise<{ ok: true; job: JobRecord | null; jobs: JobRecord[]; hasMore: boolean } | { ok: false; response: string }> {
  const { key } = ctx;
  const idem = opts.idem && { key: opts.idem.key, fingerprint: opts.idem.fingerprint, pendingTtlSec: opts.pendingTtlSec ?? 300 };
  // A caller that frees its Idempotency-Key marker later names it by this time (money.ts markerOf).
  const now = opts.now ?? Date.now();
  const priced = Boolean(opts.charge?.amount || opts.hold?.amount);
  // The key's budget is checked in this same call (no round trip of its own); earlier outcomes ride along.
  const budget = priced && key.budget ? budgetCheck(key.keyId, key.budget, now) : undefined;
  const samples = takeSamples(key.account, now);
  const r = await admitOrReverse(ctx, {
    account: key.account,
    keyId: opts.bucket ? `${key.keyId}:${opts.bucket}` : key.keyId,
    rpm: opts.bucket === 'read' ? key.rpm * READ_MULTIPLIER : key.rpm,
    now,
    charge: opts.charge,
    hold: opts.hold,
    idem,
    lookup: opts.lookup,
    list: opts.list,
    ...(budget && { budget }),
    ...(samples && { samples }),
    ...((opts.charge || opts.hold) && { model: opts.model ?? memoModel(opts.charge?.memo) }),
  });
  if (r.ok) return { ok: true, job: r.job ?? null, jobs: r.jobs ?? [], hasMore: r.hasMore ?? false };
  switch (r.reason) {
    case 'replay':
      return { ok: false, response: r.response };
    case 'rate_limited':
      throw new ApiError(429, 'rate_limit_exceeded', `Rate limit reached (${key.rpm} requests per minute); retry in ${r.retryAfterSec} s`, null, {
        'retry-after': String(r.retryAfterSec),
      });
    case 'insufficient':
      throw new ApiError(402, 'insufficient_quota', `Prepaid credits do not cover this request (needs ${opts.charge?.amount ?? opts.hold?.amount ?? 0} micro-USD, available ${r.availableMicro})`, null, {
        'x-should-retry': 'false',
      });
    case 'budget_exceeded': {
      const b = key.budget!;
      const end = periodOf(b.period, now).end;
      const per = b.period === 'total' ? 'in total' : `per ${b.period}`;
      const resets = end === null ? '' : `; it resets at ${new Date(end).toISOString()}`;
      throw new ApiError(402, 'budget_exceeded', `This key's budget (${b.micro} micro-USD ${per}) does not cover this request (needs ${opts.charge?.amount ?? opts.hold?.amount ?? 0} micro-USD, ${r.remainingMicro} left)${resets}`, null, {
        'x-should-retry': 'false',
      });
    }
    case 'in_flight':
      // The first request with this key is still running, or its failure (or its replay record) is still being
      // written: a short wait, never one only time cures — see money.ts; bounded by the marker's own life.
      throw new ApiError(409, 'idempotency_conflict', 'A request with this Idempotency-Key is still in progress; retry shortly', 'Idempotency-Key', {
        'retry-after': '1',
        'x-should-retry': 'true',
      });
    case 'idem_mismatch':
      throw badRequest('Idempotency-Key', 'This Idempotency-Key was already used with a different request');
    case 'void':
      // An earlier attempt of this very operation was reversed while the ledger was unreachable.
      throw storeUnavailable();
  }
}

/** The canonical model named in a usage memo (`"m":"krea-2"`), for the refusal counts. */
const memoModel = (memo: string | undefined) => (memo ? /"m":"([^"]+)"/.exec(memo)?.[1] : undefined);

/** Reads (polls, downloads) count in their own window at this multiple of the key's rpm. */
export const READ_MULTIPLIER = 10;
