// A video job's state: its ledger key, its id opened for a caller, the finished state the settle that ends it stores
// (read back by every later poll, list and download, parsed in one place) and how a customer sees it.
import type { Config } from '../config';
import { runningProgress, type ProgressJob } from '../catalog/progress';
import { notFound } from '../http/errors';
import { hmac, toHex } from '../http/crypto';
import { decodeJob, type Job } from '../jobs/id';
import { retentionMs } from '../jobs/retention';
import type { JobRecord } from '../ledger/types';
import { accountTag, workerKey } from '../media/deliver';
import { signMediaPath } from '../media/sign';
import type { Asset } from '../providers/types';
import type { Ctx } from './context';
import { traceRoute } from './trace';

/** The job's key in the ledger: its claim (charged once) and its record. */
export const jobKey = (job: Job) => `video:${job.p}:${job.r}`;

/** Opens a job id for this caller; forged, tampered or another account's ids are a plain 404. */
export async function loadJob(ctx: Ctx, id: string): Promise<Job> {
  const job = await decodeJob(ctx.cfg.SIGNING_SECRET, id, ctx.key.account);
  if (!job || (job.p === 'fal') !== (ctx.key.tier === 'paid')) throw notFound('No such video');
  traceRoute(ctx, job.m, job.p);
  return job;
}

/** A finished job as the ledger keeps it (the settle that ends the job stores it, once; a delete replaces it). */
export interface Finished {
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

/** The finished state a record (or a settle's answer) carries, or null while the job runs. */
export const finishedOf = (state: string | null | undefined): Finished | null => (state ? (JSON.parse(state) as Finished) : null);

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
 * When a re-hosted copy stops being served (epoch ms): its retention end, never later than completion + the
 * retention configured now. Passed-through outputs: null (their life is the provider's CDN's).
 */
const contentEnd = (cfg: Config, f: Finished): number | null => (f.k ? Math.min(f.x ?? Infinity, f.at * 1000 + retentionMs(cfg)) : null);

/** A finished job as the customer sees it: a freshly signed URL to the same content every time (never past its end). */
export async function present(ctx: Ctx, f: Finished, chargedNow: boolean): Promise<Polled> {
  if (f.s === 'deleted') throw notFound('No such video');
  if (f.s === 'failed') return { status: 'failed', code: f.code ?? 'generation_failed', message: f.msg ?? 'The video could not be generated', failedAt: f.at };
  const end = contentEnd(ctx.cfg, f);
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
 * A job as its record alone tells it (no provider call): a finished one as it ended; one still running is reported
 * in progress — retrieving it gives its live status.
 */
export async function fromRecord(ctx: Ctx, record: JobRecord, job: ProgressJob): Promise<Polled> {
  const from = { remixedFrom: record.from };
  const f = finishedOf(record.state);
  if (!f) return { status: 'in_progress', progress: runningProgress(job, Date.now()), ...from };
  return { ...(await present(ctx, f, false)), ...from };
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
