// Async video, by step: create (video-create.ts: hold the estimate, submit, record the job) → look (video-look.ts:
// the first look that sees the end settles it exactly once and stores its final state; polls here, the watcher and
// fal's webhook through video-follow.ts) → content. A finished job is answered from its stored state
// (video-state.ts): one ledger call, no provider call, no CDN read. This file: the customer's poll and delete.
import { notFound } from '../http/errors';
import type { Job } from '../jobs/id';
import { persist } from '../ledger';
import { providerFor } from '../providers';
import { readJob } from './admit';
import type { Ctx } from './context';
import { cancelAtProvider, look } from './video-look';
import { jobKey, legacyVideoKey, present, videoKey, type Finished, type Polled } from './video-state';

export type { Ctx } from './context';
export { enqueueVideo, recordEnqueue, VIDEO_HOLD_TTL_SEC, VIDEO_RUN_ALLOWANCE_SEC, VIDEO_START_TIMEOUT_SEC, type Enqueued, type VideoInput } from './video-create';
export { fromRecord, jobKey, legacyVideoKey, loadJob, videoKey, type Polled } from './video-state';

/**
 * One poll: the job's record comes back in the poll's rate-limit call (its one ledger call), then the look every
 * follower takes (video-look.ts). The first look that sees the end settles the job under its claim — charging once,
 * releasing the hold, storing the final state — and every later poll, download, or concurrent racer gets that same
 * stored state, with a freshly signed URL.
 */
export async function pollJob(ctx: Ctx, job: Job, id: string): Promise<Polled> {
  const record = await readJob(ctx, jobKey(job));
  const seen = await look(ctx, job, id, record);
  const from = { remixedFrom: record?.from ?? null };
  if (seen.status !== 'ended') return { ...seen, ...from };
  return { ...(await present(ctx, seen.finished, seen.chargedNow)), ...from };
}

/**
 * Deletes a job: ends it if it still runs (no charge: its hold is released and its claim settled at 0), marks it
 * deleted so it is neither listed nor served again, removes the re-hosted copy, and asks the provider to stop.
 */
export async function deleteJob(ctx: Ctx, job: Job, id: string): Promise<void> {
  const state: Finished = { s: 'deleted', at: Math.floor(Date.now() / 1000), cost: 0 };
  const req = { account: job.a, key: jobKey(job), holdId: job.h || undefined, state: JSON.stringify(state), now: Date.now() };
  if (!(await persist(() => ctx.ledger.discard(req), ctx.cfg.STORE_TIMEOUT_MS))) throw notFound('No such video');
  if (ctx.env.MEDIA) await ctx.env.MEDIA.delete([await videoKey(ctx.cfg, id, job.a), await legacyVideoKey(ctx.cfg, id)]).catch(() => {});
  await cancelAtProvider(ctx, providerFor(job.p, ctx.cfg), job);
}
