// Async video: enqueue (hold the estimate) → poll (first completed poll settles exactly once) → content.
import type { Config } from '../config';
import { resolveRoute } from '../catalog/resolve';
import { planFrames, videoCost, type FramePlan } from '../catalog/video';
import { ApiError, notFound } from '../http/errors';
import { hmac, randomId } from '../http/crypto';
import { decodeJob, encodeJob, type Job } from '../jobs/id';
import { persist } from '../ledger';
import { deliverUrl, type DeliverContext } from '../media/deliver';
import { mp4DurationMs, rangeReader } from '../media/mp4';
import { r2ReadAt } from '../media/store';
import { providerFor } from '../providers';
import type { Asset, InputFile, VideoState } from '../providers/types';
import { admit, IDEMPOTENCY_TTL_SEC, type IdempotencyInput } from './admit';
import type { Ctx } from './context';
import { release } from './money';

export type { Ctx } from './context';

export interface VideoInput {
  prompt: string;
  model?: string;
  seconds?: number;
  frames?: number;
  width: number;
  height: number;
  seed?: number;
  image?: InputFile;
  audio?: InputFile;
}

/** A hold outlives any sane render; an unpolled job's hold then expires by itself. */
export const VIDEO_HOLD_TTL_SEC = 6 * 3600;

export interface Enqueued {
  job: Job;
  id: string;
  plan: FramePlan;
}

export async function enqueueVideo(ctx: Ctx, input: VideoInput, idem?: IdempotencyInput): Promise<Enqueued | { replay: unknown }> {
  const { cfg, key } = ctx;
  const hasImage = Boolean(input.image);
  const route = resolveRoute({ model: input.model, kind: 'video', hasImage, hasAudio: Boolean(input.audio) }, key.tier, cfg, cfg.PRICE_MARGIN_BPS);
  const plan = planFrames(route, hasImage, input);
  const provider = providerFor(route.provider, cfg);
  const estimate = videoCost(route.unitMicro, plan);
  // A hold (of 0 on the free tier) makes the enqueue idempotent: sent again, it cannot hold twice.
  const holdId = `vh_${randomId(12)}`;
  const replay = await admit(ctx, {
    hold: { id: holdId, amount: estimate, ttlSec: VIDEO_HOLD_TTL_SEC },
    idem,
    pendingTtlSec: cfg.UPSTREAM_TIMEOUT_SECONDS + 60,
  });
  if (replay !== null) return { replay: JSON.parse(replay) };
  let requestId: string;
  try {
    requestId = await provider.submitVideo(route, { ...input, ...plan }, { shortRetention: Boolean(ctx.env.MEDIA), urlRules: ctx.urlRules });
  } catch (err) {
    await release(ctx, key.account, holdId, idem?.key);
    throw err;
  }
  const job: Job = {
    m: route.canonical,
    p: route.provider,
    e: route.endpoint,
    r: requestId,
    a: key.account,
    u: route.unitMicro,
    f: plan.frames,
    fps: plan.fps,
    h: holdId,
    s: `${input.width}x${input.height}`,
    t: Math.floor(Date.now() / 1000),
  };
  return { job, id: await encodeJob(cfg.SIGNING_SECRET, job), plan };
}

/** Stores the enqueue response for Idempotency-Key replays (best effort: the job exists either way). */
export async function rememberEnqueue(ctx: Ctx, idem: IdempotencyInput, response: unknown): Promise<void> {
  const req = { account: ctx.key.account, idem, response: JSON.stringify(response), ttlSec: IDEMPOTENCY_TTL_SEC, now: Date.now() };
  await persist(() => ctx.ledger.remember(req), ctx.cfg.STORE_TIMEOUT_MS).catch(() => {});
}

/** Verifies a job id for this caller; forged, tampered or another account's ids are a plain 404. */
export async function loadJob(ctx: Ctx, id: string): Promise<Job> {
  const job = await decodeJob(ctx.cfg.SIGNING_SECRET, id);
  if (!job || job.a !== ctx.key.account || (job.p === 'fal') !== (ctx.key.tier === 'paid')) throw notFound('No such video');
  return job;
}

export type Polled =
  | { status: 'queued' | 'in_progress'; progress: number }
  | { status: 'failed'; code: string; message: string }
  | { status: 'completed'; url: string; asset: Asset; mediaKey: string; costMicro: number; chargedNow: boolean };

/** One poll: asks the provider (endpoint from the id, hosts from config) and settles on the first completion. */
export async function pollJob(ctx: Ctx, id: string, job: Job): Promise<Polled> {
  const { cfg, ledger } = ctx;
  const provider = providerFor(job.p, cfg);
  const state: VideoState = await provider.videoStatus(job.e, job.r);
  if (state.status === 'failed') {
    if (job.h) await release(ctx, job.a, job.h);
    return state;
  }
  if (state.status !== 'completed') return state;
  const dctx: DeliverContext = { cfg, bucket: ctx.env.MEDIA, provider, account: job.a, origin: ctx.origin };
  const key = await videoKey(cfg, id);
  const url = await deliverUrl(dctx, state.asset, 'video', key);
  const planned = videoCost(job.u, { frames: job.f, fps: job.fps });
  if (planned === 0) return { status: 'completed', url, asset: state.asset, mediaKey: key, costMicro: 0, chargedNow: false };
  // Bill what was delivered: the file's own duration when it is shorter than planned (e.g. a short avatar audio).
  const read = ctx.env.MEDIA ? r2ReadAt(ctx.env.MEDIA, key) : rangeReader((range) => provider.open(state.asset, range));
  const ms = await mp4DurationMs(read).catch(() => null);
  // A zero or unreadable duration is not "free": it bills the planned amount. Billed never exceeds planned.
  const amount = !ms ? planned : Math.min(planned, Math.floor((job.u * ms + 500) / 1000));
  // Idempotent by claim: resent while its answer is lost; if it stays unknown the poll answers 503 and the same
  // poll sent again settles (or finds settled) the same claim.
  const settled = await persist(
    () =>
      ledger.settle({
        account: job.a,
        claim: `video:${job.p}:${job.r}`,
        amount,
        holdId: job.h || undefined,
        memo: `${job.m} ${job.f}f@${job.fps}fps`,
        now: Date.now(),
      }),
    cfg.STORE_TIMEOUT_MS,
  );
  if (!settled.ok) {
    throw new ApiError(402, 'insufficient_quota', 'The finished video cannot be paid for: its credit hold expired and the balance no longer covers it', null, { 'x-should-retry': 'false' });
  }
  return { status: 'completed', url, asset: state.asset, mediaKey: key, costMicro: settled.amount, chargedNow: settled.charged };
}

/** The R2 key of a job's re-hosted video: derived from the id, so concurrent polls write one object. */
export async function videoKey(cfg: Config, id: string): Promise<string> {
  const mac = await hmac(cfg.SIGNING_SECRET, 'video-media-v1', id);
  return `v_${[...mac.slice(0, 16)].map((b) => b.toString(16).padStart(2, '0')).join('')}.mp4`;
}

