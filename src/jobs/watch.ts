// The job watcher: every enqueued video is followed to its end by the gateway itself, so that a customer who never
// polls is still billed (once) and a failed job's hold is released at once. Engine: the JOBS Cloudflare Queue with
// delayed messages — the message is the job's id (stateless, like everything else), the consumer asks where the job
// is through the very path a poll takes (same settle, same claim: watcher, polls, downloads and fal's webhook
// together charge once), and re-queues it with backoff until the job ends or its hold would have expired.
import type { Config } from '../config';
import type { Env } from '../env';
import { ApiError } from '../http/errors';
import type { Ledger } from '../ledger';
import { VIDEO_HOLD_TTL_SEC } from '../pipeline/video-create';
import { providerFailure } from '../pipeline/video-end';
import { followJob, type Followed } from '../pipeline/video-follow';
import { decodeJob } from './id';
import { watchDelaySec } from './queue';

import type { WatchMessage } from './messages';
export type { WatchMessage } from './messages';

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
    const state: Followed = await followJob({ env, cfg, ledger, origin: msg.origin }, job, msg.id);
    ended = state === null || state === 'completed' || state === 'failed';
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
