// The job watcher: every enqueued video is followed to its end by the gateway itself, so that a customer who never
// polls is still billed (once) and a failed job's hold is released at once. Engine: the JOBS Cloudflare Queue with
// delayed messages — the message is the job's id (stateless, like everything else), the consumer asks where the job
// is through the very path a poll takes (same settle, same claim: watcher, polls, downloads and fal's webhook
// together charge once), and re-queues it with backoff until the job ends or its hold would have expired.
import type { Config } from '../config';
import type { Env } from '../env';
import { ApiError } from '../http/errors';
import type { Ledger } from '../ledger';
import type { KeyRecord } from '../ledger/types';
import { followJob, VIDEO_HOLD_TTL_SEC } from '../pipeline/videos';
import { providerFailure } from '../pipeline/video-end';
import type { Ctx } from '../pipeline/context';
import { decodeJob, type Job } from './id';

import type { WatchMessage } from './messages';
export type { WatchMessage } from './messages';

/** Wait before look n + 1: 2 s, 3 s, 5 s, 10 s, 20 s, 30 s, then every 60 s. */
export const watchDelaySec = (n: number) => [2, 3, 5, 10, 20, 30][n] ?? 60;

/** A pipeline context acting for nobody in particular: the job's own account and tier, no customer limits. */
export function systemCtx(env: Env, cfg: Config, ledger: Ledger, job: Job, origin: string, exec?: ExecutionContext): Ctx {
  const key: KeyRecord = { keyId: 'system', account: job.a, tier: job.p === 'fal' ? 'paid' : 'test', rpm: 0 };
  return { env, cfg, ledger, key, origin, urlRules: { insecure: cfg.ALLOW_INSECURE_URLS, ownHosts: [] }, exec, requestId: null };
}

/** Starts following a job (no queue bound: polls alone end it, as before). Never fails the enqueue. */
export async function startWatch(env: Env, msg: Omit<WatchMessage, 't' | 'n'>): Promise<void> {
  if (!env.JOBS) return;
  const first: WatchMessage = { t: 'watch', ...msg, n: 0 };
  await env.JOBS.send(first, { delaySeconds: watchDelaySec(0) }).catch(() => {});
}

/**
 * One look at a job. Ended (or deleted, or unpayable): done. Still running — or the provider down, slow or
 * answering nonsense — the next look is queued; the job's deadline (VIDEO_JOB_DEADLINE_SEC) ends it on the first
 * look past it, and the hold's life bounds the looks in any case. A ledger failure throws: the queue retries the
 * message with backoff and, past its retries, parks it in the dead-letter queue.
 */
export async function watch(env: Env, cfg: Config, ledger: Ledger, msg: WatchMessage): Promise<void> {
  const job = await decodeJob(cfg.SIGNING_SECRET, msg.id, msg.account);
  if (!job) return;
  let ended: boolean;
  try {
    const state = await followJob(systemCtx(env, cfg, ledger, job, msg.origin), job, msg.id);
    ended = !state || state.status === 'completed' || state.status === 'failed';
  } catch (err) {
    // 402: finished but its expired hold no longer covers it — the output stays hidden until the account can pay.
    if (err instanceof ApiError && err.status === 402) return;
    if (!providerFailure(err)) throw err;
    ended = false;
  }
  if (ended || !env.JOBS) return;
  if (Date.now() / 1000 + watchDelaySec(msg.n + 1) > job.t + VIDEO_HOLD_TTL_SEC) return;
  await env.JOBS.send({ ...msg, n: msg.n + 1 }, { delaySeconds: watchDelaySec(msg.n + 1) });
}
