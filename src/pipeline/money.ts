// The money moves of a request, each with a plan for when the ledger stops answering:
// - before anything happens (admit): fail closed with 503, and queue the reversal of whatever the lost call may
//   have done (void the charge, release the hold) — nothing was delivered, so nothing may stay charged;
// - after a failure or a partial delivery (refund, release): resend within the request's budget, then queue it;
//   the customer gets the right answer now and the ledger catches up;
// - on a video's completion (settle): resend within the budget, else 503 — the output stays retrievable by the
//   same poll sent again, which settles under the same claim (charged once).
import { ApiError } from '../http/errors';
import { persist } from '../ledger';
import type { AdmitRequest } from '../ledger/types';
import { compensate } from '../jobs/queue';
import type { Ctx } from './context';

const isStoreDown = (err: unknown) => err instanceof ApiError && err.code === 'store_unavailable';

/** Admit; when its outcome is unknown, the charge/hold it may have made is reversed through the queue. */
export async function admitOrReverse(ctx: Ctx, req: AdmitRequest) {
  try {
    return await ctx.ledger.admit(req);
  } catch (err) {
    if (isStoreDown(err)) {
      if (req.charge && req.charge.amount > 0) await compensate(ctx.env, ctx.exec, { t: 'refund', account: req.account, claim: req.charge.id, keep: 0 });
      if (req.hold) await compensate(ctx.env, ctx.exec, { t: 'release', account: req.account, holdId: req.hold.id });
    }
    throw err;
  }
}

/** Lowers a charge to `keep`; never fails the request — an unknown outcome goes to the queue. */
export async function refund(ctx: Ctx, claim: string, keep: number): Promise<void> {
  const account = ctx.key.account;
  try {
    await persist(() => ctx.ledger.refund({ account, claim, keep, now: Date.now() }), ctx.cfg.STORE_TIMEOUT_MS);
  } catch {
    await compensate(ctx.env, ctx.exec, { t: 'refund', account, claim, keep });
  }
}

/** Releases a hold (and an unfinished idempotency marker); an unknown outcome goes to the queue. */
export async function release(ctx: Ctx, account: string, holdId: string | undefined, idemKey?: string): Promise<void> {
  try {
    await persist(() => ctx.ledger.release({ account, holdId, idemKey, now: Date.now() }), ctx.cfg.STORE_TIMEOUT_MS);
  } catch {
    if (holdId) await compensate(ctx.env, ctx.exec, { t: 'release', account, holdId });
  }
}

/** Clears an unfinished idempotency marker so the same key can be tried again (best effort: it also expires). */
export async function forgetIdempotency(ctx: Ctx, idemKey: string | undefined): Promise<void> {
  if (!idemKey) return;
  await ctx.ledger.release({ account: ctx.key.account, idemKey, now: Date.now() }).catch(() => {});
}
