// How requested seconds become frames for each video route. Frames and fps travel in the job id, so the bill
// (unit price × frames / fps) is exactly what the model was asked to deliver.
import { badRequest } from '../http/errors';
import type { Route } from './resolve';

interface FrameRule {
  fps: number;
  min: number;
  max: number;
  /** Valid frame counts are step·k + offset (e.g. Krea-Wan: 12k+6, Wan latents: 4k+1). */
  step: number;
  offset: number;
}

const RULES: Record<string, FrameRule> = {
  'fal:wan': { fps: 16, min: 18, max: 162, step: 12, offset: 6 },
  'fal:wan-i2v': { fps: 16, min: 17, max: 161, step: 4, offset: 1 },
  'fal:avatar': { fps: 25, min: 41, max: 721, step: 4, offset: 1 },
  'worker:wan': { fps: 16, min: 17, max: 161, step: 4, offset: 1 },
  'worker:wan-i2v': { fps: 16, min: 17, max: 161, step: 4, offset: 1 },
  'worker:avatar': { fps: 25, min: 41, max: 721, step: 4, offset: 1 },
};

export interface FramePlan {
  frames: number;
  fps: number;
}

export const DEFAULT_SECONDS = 4;

function ruleFor(route: Route, hasImage: boolean): FrameRule {
  const variant = route.canonical === 'wan' && hasImage ? 'wan-i2v' : route.canonical;
  return RULES[`${route.provider}:${variant}`]!;
}

/** Seconds → the nearest valid frame count (or frames given directly, validated). */
export function planFrames(route: Route, hasImage: boolean, want: { seconds?: number; frames?: number }): FramePlan {
  const r = ruleFor(route, hasImage);
  if (want.frames !== undefined) {
    const ok = want.frames >= r.min && want.frames <= r.max && (want.frames - r.offset) % r.step === 0;
    if (!ok) throw badRequest('frames', `'frames' must be ${r.step}k+${r.offset} from ${r.min} to ${r.max} for ${route.canonical}`);
    return { frames: want.frames, fps: r.fps };
  }
  const seconds = want.seconds ?? DEFAULT_SECONDS;
  const max = Math.floor(r.max / r.fps);
  if (!(seconds >= 1 && seconds <= max)) throw badRequest('seconds', `'seconds' must be from 1 to ${max} for ${route.canonical}`);
  const k = Math.round((seconds * r.fps - r.offset) / r.step);
  const frames = Math.min(Math.max(k * r.step + r.offset, r.min), r.max - ((r.max - r.offset) % r.step));
  return { frames, fps: r.fps };
}

/** The customer price of a frame plan, integer micro-USD (rounded half up). */
export function videoCost(unitMicro: number, plan: FramePlan): number {
  return Math.floor((unitMicro * plan.frames * 2 + plan.fps) / (2 * plan.fps));
}

/** Seconds as the OpenAI Video object reports them (a string), e.g. "4.125". */
export const secondsString = (plan: FramePlan) => String(Math.round((plan.frames / plan.fps) * 1000) / 1000);
