import { Hono } from 'hono/tiny';
import * as z from 'zod/mini';
import type { AppEnv } from '../app-env';
import { sha256Hex } from '../http/crypto';
import { badRequest } from '../http/errors';
import { parse, parseJson } from '../http/validate';
import { idempotencyFrom } from '../pipeline/admit';
import { ctxOf } from '../pipeline/context';
import { runImages } from '../pipeline/images';
import { jsonStream, sized } from '../http/json-stream';

const nullish = <T extends z.ZodMiniType>(t: T) => z.optional(z.nullable(t));

/** OpenAI images request; unknown fields (quality, style, user, background, …) are tolerated and ignored. */
const imageBody = z.looseObject({
  prompt: z.string().check(z.trim(), z.minLength(1, 'must not be empty'), z.maxLength(4000, 'must be at most 4000 characters')),
  model: nullish(z.string()),
  n: nullish(z.int().check(z.gte(1, 'must be between 1 and 4'), z.lte(4, 'must be between 1 and 4'))),
  size: nullish(z.string()),
  response_format: nullish(z.enum(['url', 'b64_json'])),
  output_format: nullish(z.enum(['png', 'jpeg'])),
  seed: nullish(z.int().check(z.gte(0), z.lte(2 ** 32 - 1))),
  stream: nullish(z.boolean()),
});

/** fal's image_size presets, by exact pixel size. */
const PRESETS: Record<string, string> = {
  '1024x1024': 'square_hd',
  '512x512': 'square',
  '768x1024': 'portrait_4_3',
  '576x1024': 'portrait_16_9',
  '1024x768': 'landscape_4_3',
  '1024x576': 'landscape_16_9',
};

export function parseImageSize(size: string | null | undefined): { width: number; height: number; preset?: string } {
  const s = !size || size === 'auto' ? '1024x1024' : size.trim().toLowerCase();
  const m = s.match(/^(\d{2,5})x(\d{2,5})$/);
  const width = Number(m?.[1]);
  const height = Number(m?.[2]);
  if (!m || [width, height].some((d) => d < 256 || d > 2048 || d % 16 !== 0)) {
    throw badRequest('size', `Unsupported size '${size}': use 'auto' or WIDTHxHEIGHT with each side 256-2048 and a multiple of 16 (e.g. 1024x1024, 1536x1024)`);
  }
  return { width, height, preset: PRESETS[`${width}x${height}`] };
}

export const images = new Hono<AppEnv>().post('/images/generations', async (c) => {
  const raw = await c.req.text();
  const body = parse(imageBody, parseJson(raw));
  if (body.stream) throw badRequest('stream', 'Streaming image generation is not supported');
  const job = {
    model: body.model ?? undefined,
    prompt: body.prompt,
    n: body.n ?? 1,
    ...parseImageSize(body.size),
    seed: body.seed ?? undefined,
    format: body.output_format ?? 'png',
    responseFormat: body.response_format ?? 'url',
  } as const;
  const idem = await idempotencyFrom(c.req.header('idempotency-key'), 'images', await sha256Hex(raw));
  const out = await runImages(ctxOf(c), job, idem);
  c.header('x-phi-cost-micro', String(out.costMicro));
  if (out.replayed) c.header('idempotent-replayed', 'true');
  // b64_json bodies stream their base64 from the image bytes (never one big string in memory).
  if (job.responseFormat === 'url') return c.json(out.body);
  const json = jsonStream(out.body);
  return c.body(sized(json), 200, { 'content-type': 'application/json' });
});
