// Async video: enqueue (hold the estimate, submit, record the job) → poll (the first poll that sees the end settles
// it exactly once and stores its final state) → content. A finished job is answered from its stored state: one
// ledger call, no provider call, no CDN read.
import type { Config } from '../config';
import { resolveRoute } from '../catalog/resolve';
import { DEFAULT_SECONDS, planFrames, videoCost, type FramePlan } from '../catalog/video';
import { ApiError, notFound, upstreamError } from '../http/errors';
import { hmac, randomId, toHex } from '../http/crypto';
import { decodeJob, encodeJob, sealHook, type Job, type PendingJob } from '../jobs/id';
import { persist } from '../ledger';
import { accountTag, rehost, workerKey, type DeliverContext } from '../media/deliver';
import { mp4Info, rangeReader } from '../media/mp4';
import { queuedProgress, runningProgress, type ProgressJob } from '../catalog/progress';
import { signMediaPath } from '../media/sign';
import { SERVABLE } from '../media/sniff';
import { r2ReadAt } from '../media/store';
import { providerFor } from '../providers';
import type { Asset, InputFile } from '../providers/types';
import { admit, IDEMPOTENCY_TTL_SEC, readJob, type IdempotencyInput } from './admit';
import type { JobRecord } from '../ledger/types';
import { retentionMs } from '../jobs/retention';
import type { Ctx } from './context';
import { release } from './money';
import { notify } from '../jobs/webhooks';
import { usageMemo } from './usage';

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
 * fal's `X-Fal-Request-Timeout` (a deadline to START, not to finish): a job that has not started 5 h after
 * submission could no longer finish inside its hold (6 h, when the gateway stops following it), so fal drops it
 * with a 504 — unbilled by fal, and the job fails here with its hold released — instead of doing work nobody collects.
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
  const replay = await admit(ctx, {
    hold: { id: holdId, amount: estimate, ttlSec: VIDEO_HOLD_TTL_SEC },
    idem,
    pendingTtlSec: cfg.UPSTREAM_TIMEOUT_SECONDS + 60,
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
    requestId = await provider.submitVideo(route, { ...input, ...plan }, { shortRetention: Boolean(ctx.env.MEDIA), urlRules: ctx.urlRules, webhookUrl, startTimeoutSec: VIDEO_START_TIMEOUT_SEC });
  } catch (err) {
    await release(ctx, key.account, holdId, idem?.key);
    throw err;
  }
  const job: Job = { ...pending, r: requestId };
  return { job, id: await encodeJob(cfg.SIGNING_SECRET, job), plan };
}

/**
 * Completes an enqueue in one ledger call: records the job (for listing and for cheap polls) and stores the
 * response an Idempotency-Key replays. Best effort — the job exists either way, and polls still work without it.
 */
export async function recordEnqueue(ctx: Ctx, enqueued: Enqueued, idem: IdempotencyInput | undefined, response: unknown, from?: string): Promise<void> {
  const req = {
    account: ctx.key.account,
    now: Date.now(),
    job: { key: jobKey(enqueued.job), id: enqueued.id, createdAt: enqueued.job.t, from, meta: JSON.stringify({ r: ctx.requestId, k: ctx.key.keyId }) },
    ...(idem && { idem: { ...idem, response: JSON.stringify(response), ttlSec: IDEMPOTENCY_TTL_SEC } }),
  };
  await persist(() => ctx.ledger.remember(req), ctx.cfg.STORE_TIMEOUT_MS).catch(() => {});
}

/** Opens a job id for this caller; forged, tampered or another account's ids are a plain 404. */
export async function loadJob(ctx: Ctx, id: string): Promise<Job> {
  const job = await decodeJob(ctx.cfg.SIGNING_SECRET, id, ctx.key.account);
  if (!job || (job.p === 'fal') !== (ctx.key.tier === 'paid')) throw notFound('No such video');
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

/** Asks the provider where an unfinished job is, and ends it (settles it) when it has ended. */
async function advance(ctx: Ctx, job: Job, id: string, key: string, meta: string | null): Promise<Polled> {
  const provider = providerFor(job.p, ctx.cfg);
  const state = await provider.videoStatus(job.e, job.r);
  const now = Math.floor(Date.now() / 1000);
  let expires: number | undefined;
  if (state.status === 'failed') {
    const failed: Finished = { s: 'failed', at: now, cost: 0, code: state.code, msg: state.message };
    return settle(ctx, job, id, key, 0, failed, meta);
  }
  if (state.status === 'queued') return { status: 'queued', progress: queuedProgress(state.position) };
  if (state.status === 'in_progress') return { status: 'in_progress', progress: runningProgress(job, Date.now()) };
  let mediaKey: string | undefined;
  if (!ctx.env.MEDIA && state.asset.kind === 'worker' && !SERVABLE.has(state.asset.contentType)) {
    throw upstreamError('The worker produced a file that is not a video');
  }
  if (ctx.env.MEDIA) {
    const dctx: DeliverContext = { cfg: ctx.cfg, bucket: ctx.env.MEDIA, provider, account: job.a, origin: ctx.origin, jobs: ctx.env.JOBS, exec: ctx.exec };
    mediaKey = await videoKey(ctx.cfg, id, job.a);
    // The copy is kept MEDIA_RETENTION_HOURS from this completion (the Video object's expires_at), then deleted.
    expires = (await rehost(dctx, state.asset, 'video', mediaKey, now * 1000 + retentionMs(ctx.cfg))).expires;
  }
  const plannedMs = Math.round((job.f * 1000) / job.fps);
  const planned = videoCost(job.u, { frames: job.f, fps: job.fps });
  // What was delivered, read once from the file (a few range reads) and kept in the final state: its duration and
  // picture size are the Video object's `seconds` and `size` on every later poll, with no further read.
  const read = mediaKey ? r2ReadAt(ctx.env.MEDIA!, mediaKey) : rangeReader((range) => provider.open(state.asset, range));
  const info = await mp4Info(read).catch(() => null);
  const ms = info?.durationMs || 0;
  // Bill what was delivered: the file's own duration when shorter than planned (e.g. a short avatar audio). A
  // zero or unreadable duration is not "free": it bills the planned amount. Billed never exceeds planned.
  const amount = planned === 0 ? 0 : !ms ? planned : Math.min(planned, Math.floor((job.u * ms + 500) / 1000));
  const billedMs = !ms ? plannedMs : Math.min(plannedMs, ms);
  const finished: Finished = {
    s: 'completed',
    at: now,
    cost: amount,
    d: billedMs,
    ...(ms && { dur: ms }),
    ...(info?.size && { wh: `${info.size.width}x${info.size.height}` }),
    ...(mediaKey ? { k: mediaKey, x: expires } : { a: state.asset }),
  };
  return settle(ctx, job, id, key, amount, finished, meta);
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
 * provider, and the same settle under the same claim — without a customer's rate limit. `null` when the job has no
 * record yet (its enqueue has not completed) or no longer has one.
 */
export async function followJob(ctx: Ctx, job: Job, id: string): Promise<Polled | null> {
  const key = jobKey(job);
  const r = await persist(() => ctx.ledger.admit({ account: job.a, keyId: 'system:follow', rpm: 1_000_000, now: Date.now(), lookup: key }), ctx.cfg.STORE_TIMEOUT_MS);
  const record = r.ok ? (r.job ?? null) : null;
  if (!record) return null;
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
