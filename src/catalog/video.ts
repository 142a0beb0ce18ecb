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

/**
 * The longest length OpenAI documents for a video (`VideoSeconds`: "4", "8", "12"). Every route accepts up to it
 * (or up to its own longer maximum): a request for more than a route can make is clamped to the route's longest
 * valid frame count, and the Video object's `seconds` says what is made.
 */
export const OPENAI_MAX_SECONDS = 12;

function ruleFor(route: Route, hasImage: boolean): FrameRule {
  const variant = route.canonical === 'wan' && hasImage ? 'wan-i2v' : route.canonical;
  return RULES[`${route.provider}:${variant}`]!;
}

/** The longest valid frame count of a rule. */
const maxFrames = (r: FrameRule) => r.max - ((r.max - r.offset) % r.step);

/** The seconds a route accepts: from 1 to the longer of OpenAI's maximum and its own (whole seconds). */
export function acceptedSeconds(route: Route, hasImage: boolean): { min: number; max: number } {
  const r = ruleFor(route, hasImage);
  return { min: 1, max: Math.max(OPENAI_MAX_SECONDS, Math.floor(maxFrames(r) / r.fps)) };
}

/**
 * Seconds → the nearest valid frame count, clamped to what the route can make (or frames given directly,
 * validated, never clamped).
 */
export function planFrames(route: Route, hasImage: boolean, want: { seconds?: number; frames?: number }): FramePlan {
  const r = ruleFor(route, hasImage);
  if (want.frames !== undefined) {
    const ok = want.frames >= r.min && want.frames <= r.max && (want.frames - r.offset) % r.step === 0;
    if (!ok) throw badRequest('frames', `'frames' must be ${r.step}k+${r.offset} from ${r.min} to ${r.max} for ${route.canonical}`);
    return { frames: want.frames, fps: r.fps };
  }
  const seconds = want.seconds ?? DEFAULT_SECONDS;
  const { min, max } = acceptedSeconds(route, hasImage);
  if (!(seconds >= min && seconds <= max)) throw badRequest('seconds', `'seconds' must be from ${min} to ${max} for ${route.canonical}`);
  const k = Math.round((seconds * r.fps - r.offset) / r.step);
  const frames = Math.min(Math.max(k * r.step + r.offset, r.min), maxFrames(r));
  return { frames, fps: r.fps };
}

/** The customer price of a frame plan, integer micro-USD (rounded half up). */
export function videoCost(unitMicro: number, plan: FramePlan): number {
  return Math.floor((unitMicro * plan.frames * 2 + plan.fps) / (2 * plan.fps));
}

/** Seconds as the OpenAI Video object reports them (a string), e.g. "4.125". */
export const secondsString = (plan: FramePlan) => String(Math.round((plan.frames / plan.fps) * 1000) / 1000);
