// The money moves of a request, each with a plan for when the ledger stops answering:
// - before anything happens (admit): resent while its answer is lost (it is idempotent by its charge/hold id), so a
//   lost reply costs a resend, not a failure; when the outcome stays unknown, fail closed with 503 and reverse
//   whatever the lost call may have done — void the charge, release the hold, and free the Idempotency-Key in the
//   same compensation — tried at once and queued (durable): nothing was delivered, nothing may stay charged, and a
//   retry with the same key runs again and is charged once;
// - after a failure or a partial delivery (refund, release, freeing the key): resend within the request's budget,
//   then queue it; the customer gets the right answer now and the ledger catches up;
// - after a delivery (remember: the response an Idempotency-Key replays, a video job's record): resend, then queue
//   it, so a retry gets the replay once it lands (409 with x-should-retry: true until then), never a second run;
// - on a video's completion (settle): resend within the budget, else 503 — the output stays retrievable by the
//   same poll sent again, which settles under the same claim (charged once).
import { ApiError } from '../http/errors';
import { persist } from '../ledger';
import type { AdmitRequest, RememberRequest } from '../ledger/types';
import { apply, compensate } from '../jobs/queue';
import type { Compensation, IdemMarker } from '../jobs/messages';
import type { Ctx } from './context';

const isStoreDown = (err: unknown) => err instanceof ApiError && err.code === 'store_unavailable';

/** A request's Idempotency-Key marker, named for the compensations that free it: the `now` its admit was sent with. */
export const markerOf = (key: string, admittedAt: number, pendingTtlSec: number): IdemMarker => ({ key, at: admittedAt, ttlSec: pendingTtlSec });

/** Admit; resent while its outcome is unknown; when it stays unknown, what it may have done is reversed. */
export async function admitOrReverse(ctx: Ctx, req: AdmitRequest) {
  try {
    // A charge or hold makes the call idempotent (sent again it is a no-op answering ok); a plain read is not resent.
    return req.charge || req.hold ? await persist(() => ctx.ledger.admit(req), ctx.cfg.STORE_TIMEOUT_MS) : await ctx.ledger.admit(req);
  } catch (err) {
    if (isStoreDown(err) && (req.charge || req.hold)) await reverse(ctx, req);
    throw err;
  }
}

/** The reversal of an admit whose outcome is unknown: queued (durable), and tried now (usually it lands at once). */
async function reverse(ctx: Ctx, req: AdmitRequest): Promise<void> {
  const idem = req.idem && markerOf(req.idem.key, req.now, req.idem.pendingTtlSec);
  const msgs: Compensation[] = [];
  if (req.charge && req.charge.amount > 0) msgs.push({ t: 'refund', account: req.account, claim: req.charge.id, keep: 0, ...(idem && { idem }) });
  if (req.hold) msgs.push({ t: 'release', account: req.account, holdId: req.hold.id, ...(idem && !msgs.length && { idem }) });
  if (!msgs.length && idem) msgs.push({ t: 'release', account: req.account, idem });
  for (const msg of msgs) await compensate(ctx.env, ctx.exec, msg);
  const now = Promise.all(msgs.map((m) => apply(ctx.ledger, m))).catch(() => {});
  if (ctx.exec) ctx.exec.waitUntil(now);
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

/** Releases a hold and frees the request's Idempotency-Key; an unknown outcome goes to the queue. */
export async function release(ctx: Ctx, account: string, holdId: string | undefined, idem?: IdemMarker): Promise<void> {
  try {
    const owner = idem && { idemKey: idem.key, idemOwner: { at: idem.at, ttlSec: idem.ttlSec } };
    await persist(() => ctx.ledger.release({ account, holdId, ...owner, now: Date.now() }), ctx.cfg.STORE_TIMEOUT_MS);
  } catch {
    if (holdId || idem) await compensate(ctx.env, ctx.exec, { t: 'release', account, ...(holdId && { holdId }), ...(idem && { idem }) });
  }
}

/** Frees the Idempotency-Key of a request that failed, so that the same key runs again (queued if the ledger does not answer). */
export async function forgetIdempotency(ctx: Ctx, idem: IdemMarker | undefined): Promise<void> {
  if (idem) await release(ctx, ctx.key.account, undefined, idem);
}

/** Largest replay record the queue carries (Cloudflare Queues: 128 KB a message); a larger one is queued as "omitted". */
const MAX_QUEUED_RESPONSE = 96 * 1024;

/**
 * Stores what a delivered request leaves behind (its Idempotency-Key replay, a video job's record): resent while its
 * answer is lost, then queued — so the replay a retry gets arrives with the queue, instead of the retry waiting out
 * the in-flight marker (409) and then running, and being charged, a second time. Never fails the request.
 */
export async function remember(ctx: Ctx, req: Omit<RememberRequest, 'now'>): Promise<void> {
  try {
    await persist(() => ctx.ledger.remember({ ...req, now: Date.now() }), ctx.cfg.STORE_TIMEOUT_MS);
  } catch {
    const idem = req.idem && (req.idem.response.length <= MAX_QUEUED_RESPONSE ? req.idem : { ...req.idem, response: JSON.stringify({ omitted: true }) });
    await compensate(ctx.env, ctx.exec, { t: 'remember', account: req.account, ...(idem && { idem }), ...(req.job && { job: req.job }) });
  }
}
