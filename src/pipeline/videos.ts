// Async video: enqueue (hold the estimate, submit, record the job) → poll (the first poll that sees the end settles
// it exactly once and stores its final state) → content. A finished job is answered from its stored state: one
// ledger call, no provider call, no CDN read.
import type { Config } from '../config';
import { resolveRoute } from '../catalog/resolve';
import { DEFAULT_SECONDS, planFrames, videoCost, type FramePlan } from '../catalog/video';
import { ApiError, notFound } from '../http/errors';
import { hmac, randomId, toHex } from '../http/crypto';
import { decodeJob, encodeJob, sealHook, type Job, type PendingJob } from '../jobs/id';
import { persist } from '../ledger';
import { accountTag, rehost, workerKey, type DeliverContext } from '../media/deliver';
import { mp4Info } from '../media/mp4';
import { queuedProgress, runningProgress, type ProgressJob } from '../catalog/progress';
import { signMediaPath } from '../media/sign';
import { SERVABLE } from '../media/sniff';
import { r2ReadAt } from '../media/store';
import { providerFor } from '../providers';
import type { Asset, InputFile, Provider, VideoState } from '../providers/types';
import { isUnusable, noUsableVideo, UnusableOutput } from '../providers/unusable';
import { deadlineFailure, pastDeadline, providerFailure, providerReader } from './video-end';
import { admit, IDEMPOTENCY_TTL_SEC, readJob, type IdempotencyInput } from './admit';
import type { JobRecord } from '../ledger/types';
import { retentionMs } from '../jobs/retention';
import type { Ctx } from './context';
import { markerOf, release, remember } from './money';
import { notify } from '../jobs/webhooks';
import { usageMemo } from './usage';
import { traceRoute, upstream } from './trace';

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

/** The job's key in the ledger: its claim (charged once) and its record. */
export const jobKey = (job: Job) => `video:${job.p}:${job.r}`;

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
 * Completes an enqueue in one ledger call: records the job (for listing and for cheap polls) and stores the
 * response an Idempotency-Key replays. Never fails the enqueue — the job exists either way, and polls work without
 * its record; a call that does not land is queued (a retry with the key gets 409, x-should-retry: true, until then).
 */
export async function recordEnqueue(ctx: Ctx, enqueued: Enqueued, idem: IdempotencyInput | undefined, response: unknown, from?: string): Promise<void> {
  const req = {
    account: ctx.key.account,
    job: { key: jobKey(enqueued.job), id: enqueued.id, createdAt: enqueued.job.t, from, meta: JSON.stringify({ r: ctx.requestId, k: ctx.key.keyId }) },
    ...(idem && { idem: { ...idem, response: JSON.stringify(response), ttlSec: IDEMPOTENCY_TTL_SEC } }),
  };
  await remember(ctx, req);
}

/** Opens a job id for this caller; forged, tampered or another account's ids are a plain 404. */
export async function loadJob(ctx: Ctx, id: string): Promise<Job> {
  const job = await decodeJob(ctx.cfg.SIGNING_SECRET, id, ctx.key.account);
  if (!job || (job.p === 'fal') !== (ctx.key.tier === 'paid')) throw notFound('No such video');
  traceRoute(ctx, job.m, job.p);
  return job;
}

/** A finished job as the ledger keeps it (the settle that ends the job stores it, once; a delete replaces it). */
interface Finished {
  s: 'completed' | 'failed' | 'deleted';
  /** completed_at (or failed at), unix seconds */
  at: number;
  /** billed, micro-USD, and the seconds that were billed (ms) */
  cost: number;
  d?: number;
  /** as read from the delivered MP4: its duration (ms) and picture size (`WxH`), when readable */
  dur?: number;
  wh?: string;
  /** R2 key of the re-hosted copy, and its retention end (epoch ms; absent in states stored before it was kept) */
  k?: string;
  x?: number;
  a?: Asset;
  code?: string;
  msg?: string;
}

export type Polled = (
  | { status: 'queued' | 'in_progress'; progress: number }
  | { status: 'failed'; code: string; message: string; failedAt: number }
  | {
      status: 'completed';
      url: string;
      asset?: Asset;
      mediaKey?: string;
      costMicro: number;
      billedMs: number;
      /** the delivered file's own duration (ms; the billed one when unreadable) and size (`WxH`, when readable) */
      deliveredMs: number;
      size: string | null;
      chargedNow: boolean;
      completedAt: number;
      /** when the gateway stops serving the content (re-hosted copies), unix seconds */
      expiresAt: number | null;
    }
) & { remixedFrom?: string | null };

/**
 * One poll. A finished job is answered from its record (read in the poll's rate-limit call). Otherwise the
 * provider is asked (endpoint from the id, hosts from config); the first poll that sees the end settles the job
 * under its claim — charging once, releasing the hold, storing the final state — and every later poll, download,
 * or concurrent racer gets that same stored state.
 */
export async function pollJob(ctx: Ctx, job: Job, id: string): Promise<Polled> {
  const key = jobKey(job);
  const record = await readJob(ctx, key);
  const from = { remixedFrom: record?.from ?? null };
  if (record?.state) return { ...(await present(ctx, JSON.parse(record.state) as Finished, false)), ...from };
  return { ...(await advance(ctx, job, id, key, record?.meta ?? null)), ...from };
}

/**
 * Asks the provider where an unfinished job is, and ends it (settles it) when it has ended: completed with a usable
 * video, or failed — by the provider, with an output that can never be delivered, or past VIDEO_JOB_DEADLINE_SEC
 * (src/pipeline/video-end.ts). A provider that is down or answers nonsense before the deadline is the poll's error.
 */
async function advance(ctx: Ctx, job: Job, id: string, key: string, meta: string | null): Promise<Polled> {
  const provider = providerFor(job.p, ctx.cfg);
  let state: VideoState;
  try {
    state = await upstream(ctx, () => provider.videoStatus(job.e, job.r));
  } catch (err) {
    if (providerFailure(err) && pastDeadline(ctx.cfg, job)) return expire(ctx, provider, job, id, key, meta);
    throw err;
  }
  const now = Math.floor(Date.now() / 1000);
  if (state.status === 'failed') return fail(ctx, job, id, key, meta, state.code, state.message);
  if (state.status === 'queued' || state.status === 'in_progress') {
    if (pastDeadline(ctx.cfg, job, now)) return expire(ctx, provider, job, id, key, meta);
    return state.status === 'queued' ? { status: 'queued', progress: queuedProgress(state.position) } : { status: 'in_progress', progress: runningProgress(job, Date.now()) };
  }
  let finished: Finished;
  try {
    finished = await delivered(ctx, provider, job, id, state.asset, now);
  } catch (err) {
    if (isUnusable(err)) {
      const f = noUsableVideo(err.why);
      return fail(ctx, job, id, key, meta, f.code, f.message);
    }
    if (providerFailure(err) && pastDeadline(ctx.cfg, job)) return expire(ctx, provider, job, id, key, meta);
    throw err;
  }
  return settle(ctx, job, id, key, finished.cost, finished, meta);
}

/** Ends a job failed: its hold released and its claim settled at 0 in one ledger call, `video.failed` sent. */
function fail(ctx: Ctx, job: Job, id: string, key: string, meta: string | null, code: string, message: string): Promise<Polled> {
  const failed: Finished = { s: 'failed', at: Math.floor(Date.now() / 1000), cost: 0, code, msg: message };
  return settle(ctx, job, id, key, 0, failed, meta);
}

/** Past its deadline and not finished: failed here first (nothing charged, ever), then stopped at the provider. */
async function expire(ctx: Ctx, provider: Provider, job: Job, id: string, key: string, meta: string | null): Promise<Polled> {
  const { code, message } = deadlineFailure(ctx.cfg);
  const ended = await fail(ctx, job, id, key, meta, code, message);
  if (ended.status === 'failed' && ended.code === code) {
    const cancel = provider.cancel(job.e, job.r).catch(() => {});
    if (ctx.exec) ctx.exec.waitUntil(cancel);
    else await cancel;
  }
  return ended;
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

/**
 * Ends a job: idempotent by its claim, resent while its answer is lost; if it stays unknown the poll answers 503
 * and the same poll sent again settles (or finds settled) the same claim — the output stays retrievable.
 */
async function settle(ctx: Ctx, job: Job, id: string, key: string, amount: number, finished: Finished, meta: string | null): Promise<Polled> {
  const who = meta ? (JSON.parse(meta) as { r?: string | null; k?: string | null }) : {};
  const settled = await persist(
    () =>
      ctx.ledger.settle({
        account: job.a,
        claim: key,
        amount,
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
  const stored = settled.state ? (JSON.parse(settled.state) as Finished) : finished;
  if (settled.charged && (stored.s === 'completed' || stored.s === 'failed')) await notify(ctx, job, id, key, stored.s, stored.at);
  return present(ctx, stored, settled.charged && settled.amount > 0);
}

/**
 * Follows a job for nobody in particular (the watcher, a fal webhook): the path of a poll — its record, else the
 * provider, and the same settle under the same claim — without a customer's rate limit. `null` when the job was
 * deleted. A job with no record yet (its enqueue has not completed, or its record was lost and is still being
 * written by the queue) is reported queued, untouched — until its deadline, when it is ended like any other.
 */
export async function followJob(ctx: Ctx, job: Job, id: string): Promise<Polled | null> {
  const key = jobKey(job);
  const r = await persist(() => ctx.ledger.admit({ account: job.a, keyId: 'system:follow', rpm: 1_000_000, now: Date.now(), lookup: key }), ctx.cfg.STORE_TIMEOUT_MS);
  const record = r.ok ? (r.job ?? null) : null;
  if (!record) return pastDeadline(ctx.cfg, job) ? advance(ctx, job, id, key, null) : { status: 'queued', progress: 0 };
  if (record.state) {
    const f = JSON.parse(record.state) as Finished;
    return f.s === 'deleted' ? null : present(ctx, f, false);
  }
  return advance(ctx, job, id, key, record.meta ?? null);
}

/**
 * A job as its record alone tells it (no provider call): a finished one as it ended; one still running is reported
 * in progress — retrieving it gives its live status.
 */
export async function fromRecord(ctx: Ctx, record: JobRecord, job: ProgressJob): Promise<Polled> {
  const from = { remixedFrom: record.from };
  if (!record.state) return { status: 'in_progress', progress: runningProgress(job, Date.now()), ...from };
  return { ...(await present(ctx, JSON.parse(record.state) as Finished, false)), ...from };
}

/**
 * When a re-hosted copy stops being served (epoch ms): its retention end, never later than completion + the
 * retention configured now. Passed-through outputs: null (their life is the provider's CDN's).
 */
const contentEnd = (ctx: Ctx, f: Finished): number | null => (f.k ? Math.min(f.x ?? Infinity, f.at * 1000 + retentionMs(ctx.cfg)) : null);

/** A finished job as the customer sees it: a freshly signed URL to the same content every time (never past its end). */
async function present(ctx: Ctx, f: Finished, chargedNow: boolean): Promise<Polled> {
  if (f.s === 'deleted') throw notFound('No such video');
  if (f.s === 'failed') return { status: 'failed', code: f.code ?? 'generation_failed', message: f.msg ?? 'The video could not be generated', failedAt: f.at };
  const end = contentEnd(ctx, f);
  let url: string;
  if (f.k) url = ctx.origin + (await signMediaPath(ctx.cfg, f.k, Date.now(), end!));
  else if (f.a?.kind === 'worker') url = ctx.origin + (await signMediaPath(ctx.cfg, workerKey(f.a)));
  else url = f.a!.url;
  return {
    status: 'completed',
    url,
    asset: f.a,
    mediaKey: f.k,
    costMicro: f.cost,
    billedMs: f.d ?? 0,
    deliveredMs: f.dur ?? f.d ?? 0,
    size: f.wh ?? null,
    chargedNow,
    completedAt: f.at,
    expiresAt: end === null ? null : Math.floor(end / 1000),
  };
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
  const cancel = providerFor(job.p, ctx.cfg)
    .cancel(job.e, job.r)
    .catch(() => {});
  if (ctx.exec) ctx.exec.waitUntil(cancel);
  else await cancel;
}

/**
 * The R2 key of a job's re-hosted video, `v_<account tag>_<mac>.mp4`: derived from the id, so concurrent polls
 * write one object, and under the account's prefix, so erasing the account finds it.
 */
export async function videoKey(cfg: Config, id: string, account: string): Promise<string> {
  const mac = await hmac(cfg.SIGNING_SECRET, 'video-media-v1', id);
  return `v_${await accountTag(cfg, account)}_${toHex(mac.slice(0, 16))}.mp4`;
}

/** The key videos had before keys carried the account's tag (finished states name theirs, so they keep working). */
export async function legacyVideoKey(cfg: Config, id: string): Promise<string> {
  return `v_${toHex((await hmac(cfg.SIGNING_SECRET, 'video-media-v1', id)).slice(0, 16))}.mp4`;
}
