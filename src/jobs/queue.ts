// Follow-up work that must happen even when the request that needed it could not finish it: a charge to reverse or
// reduce, a hold to release, after the ledger stopped answering. It goes to the JOBS queue; the consumer applies it
// (every operation is idempotent) and retries with backoff until the ledger answers, then the dead-letter queue.
// Also the watcher's first look at a new job (its later looks are queued by the consumer, src/jobs/watch.ts).
import { getConfig } from '../config';
import type { Env } from '../env';
import { getLedger, type Ledger } from '../ledger';
import type { Compensation, WatchMessage } from './messages';
export type { Compensation, JobMessage } from './messages';

export async function apply(ledger: Ledger, msg: Compensation): Promise<void> {
  const now = Date.now();
  const idem = msg.t !== 'remember' && msg.idem ? { idemKey: msg.idem.key, idemOwner: { at: msg.idem.at, ttlSec: msg.idem.ttlSec } } : {};
  if (msg.t === 'remember') return ledger.remember({ account: msg.account, now, idem: msg.idem, job: msg.job });
  if (msg.t === 'release') return ledger.release({ account: msg.account, holdId: msg.holdId, ...idem, now });
  await ledger.refund({ account: msg.account, claim: msg.claim, keep: msg.keep, now });
  // Only once the charge is undone is the key freed: a retry never sees both charges.
  if (msg.idem) await ledger.release({ account: msg.account, ...idem, now });
}

/** How long a request keeps retrying a compensation itself when there is no queue (Workers' waitUntil limit). */
const INLINE_RETRY_MS = 25_000;

/**
 * Makes sure a compensation happens: on the JOBS queue when it is bound (durable), else retried in the background
 * of this request for up to INLINE_RETRY_MS.
 */
export async function compensate(env: Env, ctx: ExecutionContext | undefined, msg: Compensation): Promise<void> {
  if (env.JOBS) {
    try {
      await env.JOBS.send(msg);
      return;
    } catch {
      /* fall back to retrying here */
    }
  }
  const ledger = getLedger(env, getConfig(env));
  const retry = async () => {
    const until = Date.now() + INLINE_RETRY_MS;
    for (let wait = 250; Date.now() < until; wait = Math.min(wait * 2, 4_000)) {
      try {
        await apply(ledger, msg);
        return;
      } catch {
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  };
  if (ctx) ctx.waitUntil(retry());
  else await retry();
}

/** Backoff for a compensation the ledger did not take: 5 s, 10 s, 20 s … up to 10 min. */
export const retryDelaySec = (attempts: number) => Math.min(600, 5 * 2 ** Math.max(0, attempts - 1));

/** Wait before the watcher's look n + 1: 2 s, 3 s, 5 s, 10 s, 20 s, 30 s, then every 60 s. */
export const watchDelaySec = (n: number) => [2, 3, 5, 10, 20, 30][n] ?? 60;

/** Starts following a job (no queue bound: polls alone end it, as before). Never fails the enqueue. */
export async function startWatch(env: Env, msg: Omit<WatchMessage, 't' | 'n'>): Promise<void> {
  if (!env.JOBS) return;
  const first: WatchMessage = { t: 'watch', ...msg, n: 0 };
  await env.JOBS.send(first, { delaySeconds: watchDelaySec(0) }).catch(() => {});
}
