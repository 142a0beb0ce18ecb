// One look at a video job — the step a poll, the watcher and fal's webhook all take, given the record their one
// ledger read returned: a finished record answers as stored; otherwise the provider is asked, and the look that sees
// the end re-hosts the output, reads it once and settles the job under its claim (charged once, webhook queued once).
import { queuedProgress, runningProgress } from '../catalog/progress';
import { videoCost } from '../catalog/video';
import { ApiError } from '../http/errors';
import type { Job } from '../jobs/id';
import { retentionMs } from '../jobs/retention';
import { notify } from '../jobs/webhooks';
import { persist } from '../ledger';
import type { JobRecord } from '../ledger/types';
import { rehost, type DeliverContext } from '../media/deliver';
import { mp4Info } from '../media/mp4';
import { SERVABLE } from '../media/sniff';
import { r2ReadAt } from '../media/store';
import { providerFor } from '../providers';
import type { Asset, Provider, VideoState } from '../providers/types';
import { isUnusable, noUsableVideo, UnusableOutput } from '../providers/unusable';
import type { Ctx } from './context';
import { upstream } from './trace';
import { usageMemo } from './usage';
import { deadlineFailure, pastDeadline, providerFailure, providerReader } from './video-end';
import { finishedOf, jobKey, videoKey, type Finished } from './video-state';

/** What a look found: still running (where), or ended (as stored; `chargedNow` when this look charged it). */
export type Seen = { status: 'queued' | 'in_progress'; progress: number } | { status: 'ended'; finished: Finished; chargedNow: boolean };

/**
 * One look. A record with a final state is the answer (no provider call). Otherwise the provider is asked (endpoint
 * from the id, hosts from config) and the job is ended when it has ended: completed with a usable video, or failed —
 * by the provider, with an output that can never be delivered, or past VIDEO_JOB_DEADLINE_SEC (video-end.ts). A
 * provider that is down or answers nonsense before the deadline is the caller's error (the next look tries again).
 */
export async function look(ctx: Ctx, job: Job, id: string, record: JobRecord | null): Promise<Seen> {
  const stored = finishedOf(record?.state);
  if (stored) return { status: 'ended', finished: stored, chargedNow: false };
  const e: Ending = { ctx, job, id, provider: providerFor(job.p, ctx.cfg), meta: record?.meta ?? null };
  let state: VideoState;
  try {
    state = await upstream(ctx, () => e.provider.videoStatus(job.e, job.r));
  } catch (err) {
    if (providerFailure(err) && pastDeadline(ctx.cfg, job)) return expire(e);
    throw err;
  }
  const now = Math.floor(Date.now() / 1000);
  if (state.status === 'failed') return fail(e, state.code, state.message);
  if (state.status === 'queued' || state.status === 'in_progress') {
    if (pastDeadline(ctx.cfg, job, now)) return expire(e);
    return state.status === 'queued' ? { status: 'queued', progress: queuedProgress(state.position) } : { status: 'in_progress', progress: runningProgress(job, Date.now()) };
  }
  let finished: Finished;
  try {
    finished = await delivered(ctx, e.provider, job, id, state.asset, now);
  } catch (err) {
    if (isUnusable(err)) {
      const f = noUsableVideo(err.why);
      return fail(e, f.code, f.message);
    }
    if (providerFailure(err) && pastDeadline(ctx.cfg, job)) return expire(e);
    throw err;
  }
  return settle(e, finished);
}

/** Asks the provider to stop a job, in the background of the request when there is one. Never fails. */
export async function cancelAtProvider(ctx: Ctx, provider: Provider, job: Job): Promise<void> {
  const cancel = provider.cancel(job.e, job.r).catch(() => {});
  if (ctx.exec) ctx.exec.waitUntil(cancel);
  else await cancel;
}

/** An unfinished job being looked at: what each way of ending it needs (all of them end in one settle). */
interface Ending {
  ctx: Ctx;
  job: Job;
  id: string;
  provider: Provider;
  /** who enqueued it (the record's meta), for the usage record */
  meta: string | null;
}

/** Failed: its hold released and its claim settled at 0 in one ledger call, `video.failed` sent. */
function fail(e: Ending, code: string, message: string): Promise<Seen> {
  return settle(e, { s: 'failed', at: Math.floor(Date.now() / 1000), cost: 0, code, msg: message });
}

/** Past its deadline and not finished: failed here first (nothing charged, ever), then stopped at the provider. */
async function expire(e: Ending): Promise<Seen> {
  const { code, message } = deadlineFailure(e.ctx.cfg);
  const ended = await fail(e, code, message);
  if (ended.status === 'ended' && ended.finished.s === 'failed' && ended.finished.code === code) await cancelAtProvider(e.ctx, e.provider, e.job);
  return ended;
}

/**
 * Ends the job: idempotent by its claim, resent while its answer is lost; if it stays unknown the caller gets 503
 * and the same look again settles (or finds settled) the same claim — the output stays retrievable.
 */
async function settle({ ctx, job, id, meta }: Ending, finished: Finished): Promise<Seen> {
  const who = meta ? (JSON.parse(meta) as { r?: string | null; k?: string | null }) : {};
  const claim = jobKey(job);
  const settled = await persist(
    () =>
      ctx.ledger.settle({
        account: job.a,
        claim,
        amount: finished.cost,
        holdId: job.h || undefined,
        memo: usageMemo({ t: 'video', r: who.r ?? null, k: who.k ?? null, m: job.m, n: (finished.d ?? 0) / 1000, unit: 'second', v: id }),
        // A delivered free-tier video is usage too ($0); a failed job is not.
        record: finished.s === 'completed',
        now: Date.now(),
        state: JSON.stringify(finished),
      }),
    ctx.cfg.STORE_TIMEOUT_MS,
  );
  if (!settled.ok) {
    throw new ApiError(402, 'insufficient_quota', 'The finished video cannot be paid for: its credit hold expired and the balance no longer covers it', null, { 'x-should-retry': 'false' });
  }
  // Whoever settled first decided the state (completed_at, cost): every racer answers with it. That one also
  // tells the customer (a queued, signed webhook) — once per job, whoever ended it: a poll, the watcher or fal.
  const stored = finishedOf(settled.state) ?? finished;
  if (settled.charged && (stored.s === 'completed' || stored.s === 'failed')) await notify(ctx, job, id, claim, stored.s, stored.at);
  return { status: 'ended', finished: stored, chargedNow: settled.charged && settled.amount > 0 };
}

/**
 * The final state of a completed job, from its output: re-hosted (with MEDIA) and read once — its duration and
 * picture size are the Video object's `seconds` and `size` on every later poll, with no further read. Throws
 * UnusableOutput for an output that is not a playable MP4 (wrong type, empty, zero seconds, over the cap, a refused
 * host), any other error when the provider or R2 failed (tried again on the next look).
 */
async function delivered(ctx: Ctx, provider: Provider, job: Job, id: string, asset: Asset, now: number): Promise<Finished> {
  let mediaKey: string | undefined;
  let expires: number | undefined;
  if (!ctx.env.MEDIA && asset.kind === 'worker' && !SERVABLE.has(asset.contentType)) throw new UnusableOutput('The worker produced a file that is not a video', 'the file is not a video');
  if (ctx.env.MEDIA) {
    const dctx: DeliverContext = { cfg: ctx.cfg, bucket: ctx.env.MEDIA, provider, account: job.a, origin: ctx.origin, jobs: ctx.env.JOBS, exec: ctx.exec };
    mediaKey = await videoKey(ctx.cfg, id, job.a);
    // The copy is kept MEDIA_RETENTION_HOURS from this completion (the Video object's expires_at), then deleted.
    expires = (await rehost(dctx, asset, 'video', mediaKey, now * 1000 + retentionMs(ctx.cfg))).expires;
  }
  // A failing read is thrown (the next look tries again). Bytes that hold no movie are not an MP4; a movie whose
  // length reads as zero — every duration in it 0, or none readable — is no video either: what cannot be measured
  // is neither delivered nor billed (README "What happens when…").
  const info = await mp4Info(mediaKey ? r2ReadAt(ctx.env.MEDIA!, mediaKey) : providerReader(provider, asset));
  if (!info?.durationMs) {
    if (mediaKey) await ctx.env.MEDIA!.delete(mediaKey).catch(() => {});
    throw new UnusableOutput('The provider returned no usable video', info ? 'its duration is zero or cannot be read' : 'the file is not an MP4');
  }
  const ms = info.durationMs;
  const plannedMs = Math.round((job.f * 1000) / job.fps);
  const planned = videoCost(job.u, { frames: job.f, fps: job.fps });
  // Bill what was delivered: the file's own duration when shorter than planned (e.g. a short avatar audio), never
  // more than planned.
  const amount = planned === 0 ? 0 : Math.min(planned, Math.floor((job.u * ms + 500) / 1000));
  return {
    s: 'completed',
    at: now,
    cost: amount,
    d: Math.min(plannedMs, ms),
    dur: ms,
    ...(info.size && { wh: `${info.size.width}x${info.size.height}` }),
    ...(mediaKey ? { k: mediaKey, x: expires } : { a: asset }),
  };
}

