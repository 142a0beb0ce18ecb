// The Video object's `progress` while a job runs: an ESTIMATE, never a measurement (neither fal nor ComfyUI report
// a percentage). Queued: 0–10 from the queue position (10 = next to start). In progress: 10–95 from the time since
// the job was enqueued (queue time included) against the render time expected for its route and length; capped at
// 95 however long it takes, so only completion shows 100. It never goes backwards between polls while the
// position only falls and time only passes.

/** Expected render time: a fixed start-up plus seconds of work per second of video (guesses to tune, not measurements). */
interface RenderTime {
  startSec: number;
  perSecond: number;
}

/**
 * By route (`provider:variant`, as the frame rules): Krea-Wan 14B text-to-video is a distilled real-time model;
 * Wan 2.2 A14B image-to-video at 720p and InfiniTalk are full diffusion runs; the test worker is one modest GPU.
 */
export const RENDER_TIME: Readonly<Record<string, RenderTime>> = {
  'fal:wan': { startSec: 15, perSecond: 3 },
  'fal:wan-i2v': { startSec: 30, perSecond: 12 },
  'fal:avatar': { startSec: 30, perSecond: 20 },
  'worker:wan': { startSec: 30, perSecond: 30 },
  'worker:wan-i2v': { startSec: 30, perSecond: 30 },
  'worker:avatar': { startSec: 30, perSecond: 45 },
};

export const QUEUED_MAX = 10;
export const RUNNING_MAX = 95;

/** What a job's id tells the estimate: provider, canonical model, inputs (bit 0: an image), frames, fps, created. */
export interface ProgressJob {
  p: string;
  m: string;
  x: number;
  f: number;
  fps: number;
  /** enqueued, unix seconds */
  t: number;
}

/** Expected seconds from enqueue to completion for a job. */
export function expectedSeconds(job: ProgressJob): number {
  const variant = job.m === 'wan' && job.x & 1 ? 'wan-i2v' : job.m;
  const r = RENDER_TIME[`${job.p}:${variant}`] ?? { startSec: 30, perSecond: 30 };
  return r.startSec + r.perSecond * (job.f / job.fps);
}

/** Queued: 10 when next to start, one less per job ahead, 0 from 10 ahead on (or with no position known). */
export function queuedProgress(position: number | undefined): number {
  if (position === undefined || !Number.isFinite(position) || position < 0) return 0;
  return Math.max(0, QUEUED_MAX - Math.floor(position));
}

/** In progress: 10 → 95 over the expected render time, measured from enqueue. */
export function runningProgress(job: ProgressJob, nowMs: number): number {
  const elapsed = Math.max(0, nowMs / 1000 - job.t);
  const share = elapsed / expectedSeconds(job);
  return Math.min(RUNNING_MAX, QUEUED_MAX + Math.floor((RUNNING_MAX - QUEUED_MAX) * share));
}
