// What an OpenAI image request becomes on the route that serves it: sizes, quality and input fidelity mapped onto
// the parameters each upstream really has, or a 400 naming the parameter and what this route supports. Runs
// before anything is held or charged, so a refused request costs nothing.
import type { Config } from '../config';
import type { Route } from '../catalog/resolve';
import { badRequest } from '../http/errors';
import { imageDimensions, type Dimensions } from '../media/dimensions';
import type { LoadedInput } from '../media/inputs';
import type { ImageRequest } from '../providers/types';

export type Quality = 'auto' | 'low' | 'medium' | 'high' | 'standard' | 'hd';
type Level = 'low' | 'medium' | 'high';

/** A request as the customer asked for it (parsed and checked against the gateway-wide limits). */
export interface ImageAsk {
  prompt: string;
  n: number;
  size: 'auto' | Dimensions;
  quality: Quality;
  /** Edits: how closely the output keeps to the input (OpenAI `input_fidelity`; absent = low). */
  fidelity?: 'low' | 'high';
  format: 'png' | 'jpeg';
  seed?: number;
  /** Edits: the input images (several only with `image[]`). */
  images: LoadedInput[];
}

export interface Plan {
  route: Route;
  req: ImageRequest;
  /** What the response may state before the provider answers (the provider's own report of the size wins). */
  size?: Dimensions;
  quality?: Level;
}

/** OpenAI's quality names onto three levels: `auto` and DALL·E's `standard` are the middle one, `hd` the top. */
const LEVEL: Record<Quality, Level> = { auto: 'medium', standard: 'medium', low: 'low', medium: 'medium', high: 'high', hd: 'high' };

/**
 * Denoising steps per level. The middle level is each model's own default (fal-ai/flux/krea 28 of 1–50;
 * fal-ai/flux-1/krea/image-to-image 40 of 10–50; the worker's Krea 2 workflow 28); the price does not change.
 */
const STEPS: Record<'text' | 'edit' | 'worker', Record<Level, number>> = {
  text: { low: 14, medium: 28, high: 42 },
  edit: { low: 20, medium: 40, high: 50 },
  worker: { low: 14, medium: 28, high: 42 },
};

/** Edit strength (fal `strength`, ComfyUI `denoise`) by input fidelity: high fidelity re-renders less of the input. */
const STRENGTH: Record<'fal' | 'worker', Record<'low' | 'high', number>> = {
  fal: { low: 0.95, high: 0.8 },
  worker: { low: 0.75, high: 0.55 },
};

/** The aspect ratios Kontext multi takes (fal-ai/flux-pro/kontext/multi `aspect_ratio`). */
export const MULTI_RATIOS = ['21:9', '16:9', '4:3', '3:2', '1:1', '2:3', '3:4', '9:16', '9:21'] as const;

/** fal's image_size presets, by exact pixel size. */
const PRESETS: Record<string, string> = {
  '1024x1024': 'square_hd',
  '512x512': 'square',
  '768x1024': 'portrait_4_3',
  '576x1024': 'portrait_16_9',
  '1024x768': 'landscape_4_3',
  '1024x576': 'landscape_16_9',
};

export const DEFAULT_SIZE: Dimensions = { width: 1024, height: 1024 };
const px = (d: Dimensions) => `${d.width}x${d.height}`;
const gcd = (a: number, b: number): number => (b ? gcd(b, a % b) : a);

/** The route's upstream request for `ask`, or a 400 naming what this route cannot do. */
export function planImages(route: Route, ask: ImageAsk, cfg: Config): Plan {
  const level = LEVEL[ask.quality];
  const base = { prompt: ask.prompt, n: ask.n, seed: ask.seed, format: ask.format, images: ask.images };
  const count = ask.images.length;
  if (route.provider === 'worker') {
    if (count > 1) throw badRequest('image', `The free test tier edits one image at a time (${count} were sent); paid keys take up to 16`);
    if (ask.format !== 'png') throw badRequest('output_format', "'output_format' must be png on the free test tier (its ComfyUI workflow saves PNG only); paid keys also get jpeg");
    // An edit at size=auto keeps the input's size, brought within the gateway's size rules.
    const size = ask.size !== 'auto' ? ask.size : count ? fitted(imageDimensions(bytesOf(ask.images[0]!))) : DEFAULT_SIZE;
    const strength = count ? { strength: STRENGTH.worker[ask.fidelity ?? 'low'] } : {};
    return { route, req: { ...base, ...size, steps: STEPS.worker[level], ...strength }, size, quality: level };
  }
  if (count > 1) return planMulti(route, ask, cfg, base);
  if (count === 1) {
    // fal's FLUX Krea image-to-image has no size input: the output has the input's size.
    const input = imageDimensions(bytesOf(ask.images[0]!));
    if (ask.size !== 'auto' && (!input || px(input) !== px(ask.size))) {
      const have = input ? `the input image's size, ${px(input)}` : "the input image's size";
      throw badRequest('size', `'size' must be auto${input ? ` or ${px(input)}` : ''} for this edit: the model keeps ${have}`);
    }
    const strength = STRENGTH.fal[ask.fidelity ?? 'low'];
    return { route, req: { ...base, steps: STEPS.edit[level], strength }, size: input ?? undefined, quality: level };
  }
  const size = ask.size === 'auto' ? DEFAULT_SIZE : ask.size;
  return { route, req: { ...base, ...size, preset: PRESETS[px(size)], steps: STEPS.text[level] }, size, quality: level };
}

/** Several images: the multi-image endpoint (Kontext multi's input), which takes an aspect ratio and no steps. */
function planMulti(route: Route, ask: ImageAsk, cfg: Config, base: Omit<ImageRequest, 'steps' | 'strength'>): Plan {
  const endpoint = cfg.FAL_IMAGE_MULTI_EDIT_MODEL;
  if (!endpoint || endpoint === 'off') {
    throw badRequest('image', `Edits with several images are not available on this gateway (${ask.images.length} were sent): send one image`);
  }
  if (ask.quality !== 'auto') throw badRequest('quality', "'quality' must be auto for an edit of several images: that model has a single quality level");
  if (ask.fidelity) throw badRequest('input_fidelity', "'input_fidelity' cannot be set for an edit of several images: that model has no such control; omit it");
  let aspectRatio: string | undefined;
  if (ask.size !== 'auto') {
    const d = gcd(ask.size.width, ask.size.height);
    aspectRatio = `${ask.size.width / d}:${ask.size.height / d}`;
    if (!(MULTI_RATIOS as readonly string[]).includes(aspectRatio)) {
      throw badRequest('size', `'size' must be auto or have one of the aspect ratios ${MULTI_RATIOS.join(', ')} for an edit of several images (e.g. 1024x1024, 1536x1024, 1024x1536): the model renders about a megapixel at that aspect`);
    }
  }
  return { route: { ...route, endpoint }, req: { ...base, ...(aspectRatio && { aspectRatio }) } };
}

/** An input's size made a valid output size: each side a multiple of 16 within 256–2048 (unknown → 1024x1024). */
function fitted(d: Dimensions | null): Dimensions {
  if (!d) return DEFAULT_SIZE;
  const side = (v: number) => Math.min(2048, Math.max(256, Math.round(v / 16) * 16));
  return { width: side(d.width), height: side(d.height) };
}

const bytesOf = (input: LoadedInput): Uint8Array => (input.bytes instanceof Uint8Array ? input.bytes : new Uint8Array(0));
