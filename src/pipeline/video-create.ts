// Creating a video job: resolve and plan, hold the estimate (one ledger call with the rate limit and the
// Idempotency-Key), submit to the provider; then, once the response exists, record the job and its replay (one more
// ledger call) and queue the watcher's first look.
import { resolveRoute } from '../catalog/resolve';
import { DEFAULT_SECONDS, planFrames, videoCost, type FramePlan } from '../catalog/video';
import { randomId } from '../http/crypto';
import { encodeJob, sealHook, type Job, type PendingJob } from '../jobs/id';
import { startWatch } from '../jobs/queue';
import { providerFor } from '../providers';
import type { InputFile } from '../providers/types';
import { admit, IDEMPOTENCY_TTL_SEC, type IdempotencyInput } from './admit';
import type { Ctx } from './context';
import { markerOf, release, remember } from './money';
import { traceRoute, upstream } from './trace';
import { jobKey } from './video-state';

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

/** The longest a render is expected to run once started (a 28 s InfiniTalk avatar at 720p is well inside it). */
export const VIDEO_RUN_ALLOWANCE_SEC = 3600;

/**
 * The longest fal's `X-Fal-Request-Timeout` (a deadline to START, not to finish) may be: a job that has not started
 * 5 h after submission could no longer finish inside its hold (6 h). What is sent is the job's own deadline
 * (VIDEO_JOB_DEADLINE_SEC, 1 h by default), capped by this: fal drops a job that has not started by then with a 504
 * — unbilled by fal, and the job fails here with its hold released — instead of doing work nobody collects.
 */
export const VIDEO_START_TIMEOUT_SEC = VIDEO_HOLD_TTL_SEC - VIDEO_RUN_ALLOWANCE_SEC;

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
  traceRoute(ctx, route.canonical, route.provider);
  const pendingTtlSec = cfg.UPSTREAM_TIMEOUT_SECONDS + 60;
  const admittedAt = Date.now();
  const marker = idem && markerOf(idem.key, admittedAt, pendingTtlSec);
  const replay = await admit(ctx, {
    model: route.canonical,
    hold: { id: holdId, amount: estimate, ttlSec: VIDEO_HOLD_TTL_SEC },
    idem,
    pendingTtlSec,
    now: admittedAt,
  });
  if (replay !== null) return { replay: JSON.parse(replay) };
  const pending: PendingJob = {
    m: route.canonical,
    p: route.provider,
    e: route.endpoint,
    a: key.account,
    u: route.unitMicro,
    f: plan.frames,
    fps: plan.fps,
    h: holdId,
    s: `${input.width}x${input.height}`,
    t: Math.floor(Date.now() / 1000),
    q: input.frames === undefined ? Math.round((input.seconds ?? DEFAULT_SECONDS) * 1000) : 0,
    x: (input.image ? 1 : 0) | (input.audio ? 2 : 0),
  };
  // fal reports completion to the gateway (the pending job sealed in the URL); the watcher covers the rest.
  const webhookUrl = route.provider === 'fal' ? `${ctx.origin}/v1/hooks/fal/${await sealHook(cfg.SIGNING_SECRET, pending)}` : undefined;
  let requestId: string;
  try {
    requestId = await upstream(ctx, () => provider.submitVideo(route, { ...input, ...plan }, { shortRetention: Boolean(ctx.env.MEDIA), urlRules: ctx.urlRules, webhookUrl, startTimeoutSec: Math.min(VIDEO_START_TIMEOUT_SEC, cfg.VIDEO_JOB_DEADLINE_SEC) }));
  } catch (err) {
    await release(ctx, key.account, holdId, marker);
    throw err;
  }
  const job: Job = { ...pending, r: requestId };
  return { job, id: await encodeJob(cfg.SIGNING_SECRET, job), plan };
}

/**
 * Completes an enqueue: records the job (for listing and for cheap polls) and stores the response an
 * Idempotency-Key replays, in one ledger call, then — after the record exists, so that it finds it — queues the
 * watcher's first look. Never fails the enqueue: the job exists either way, and polls work without its record; a
 * record call that does not land is queued (a retry with the key gets 409, x-should-retry: true, until then).
 */
export async function recordEnqueue(ctx: Ctx, enqueued: Enqueued, idem: IdempotencyInput | undefined, response: unknown, from?: string): Promise<void> {
  const req = {
    account: ctx.key.account,
    job: { key: jobKey(enqueued.job), id: enqueued.id, createdAt: enqueued.job.t, from, meta: JSON.stringify({ r: ctx.requestId, k: ctx.key.keyId }) },
    ...(idem && { idem: { ...idem, response: JSON.stringify(response), ttlSec: IDEMPOTENCY_TTL_SEC } }),
  };
  await remember(ctx, req);
  await startWatch(ctx.env, { account: enqueued.job.a, id: enqueued.id, origin: ctx.origin });
}
