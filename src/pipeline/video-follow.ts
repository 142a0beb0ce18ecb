// Following a video job for nobody in particular — the watcher's look and fal's webhook: one ledger read of its
// record (no customer rate limit), then the very look a poll takes (video-look.ts: same settle, same claim).
import type { Config } from '../config';
import type { Env } from '../env';
import type { Job } from '../jobs/id';
import { persist, type Ledger } from '../ledger';
import type { KeyRecord } from '../ledger/types';
import type { Ctx } from './context';
import { pastDeadline } from './video-end';
import { look } from './video-look';
import { jobKey } from './video-state';

/** Who follows a job: the bindings, config and ledger of the isolate, the origin its URLs name, and a request's context if any. */
export interface Follower {
  env: Env;
  cfg: Config;
  ledger: Ledger;
  origin: string;
  exec?: ExecutionContext;
}

/** Where a followed job stands; `null` when it was deleted. */
export type Followed = 'queued' | 'in_progress' | 'completed' | 'failed' | null;

/** A pipeline context acting for nobody in particular: the job's own account and tier, no customer limits. */
function systemCtx({ env, cfg, ledger, origin, exec }: Follower, job: Job): Ctx {
  const key: KeyRecord = { keyId: 'system', account: job.a, tier: job.p === 'fal' ? 'paid' : 'test', rpm: 0 };
  return { env, cfg, ledger, key, origin, urlRules: { insecure: cfg.ALLOW_INSECURE_URLS, ownHosts: [] }, exec, requestId: null };
}

/**
 * One look at a job for the watcher or fal's webhook. A job with no record yet (its enqueue has not completed, or
 * its record was lost and is still being written by the queue) is reported queued, untouched — until its deadline,
 * when it is ended like any other. Nothing is presented (no URL is signed for nobody): only where the job stands.
 */
export async function followJob(who: Follower, job: Job, id: string): Promise<Followed> {
  const ctx = systemCtx(who, job);
  const r = await persist(() => ctx.ledger.admit({ account: job.a, keyId: 'system:follow', rpm: 1_000_000, now: Date.now(), lookup: jobKey(job) }), ctx.cfg.STORE_TIMEOUT_MS);
  const record = r.ok ? (r.job ?? null) : null;
  if (!record && !pastDeadline(ctx.cfg, job)) return 'queued';
  const seen = await look(ctx, job, id, record);
  if (seen.status !== 'ended') return seen.status;
  return seen.finished.s === 'deleted' ? null : seen.finished.s;
}
