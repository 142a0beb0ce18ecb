import { Hono } from 'hono/tiny';
import type { Context } from 'hono';
import * as z from 'zod/mini';
import type { AppEnv } from '../app-env';
import { sha256Hex } from '../http/crypto';
import { badRequest } from '../http/errors';
import { bool, intLike, nullish, oneOf, parse, parseJson, str, text } from '../http/validate';
import { idempotencyFrom } from '../pipeline/admit';
import { ctxOf } from '../pipeline/context';
import { runImages, type ImageJob } from '../pipeline/images';
import { fileDigest } from '../http/crypto';
import { typedInput, type LoadedInput } from '../media/inputs';
import { jsonStream, sized } from '../http/json-stream';

/** OpenAI images request; unknown fields (quality, style, user, background, …) are tolerated and ignored. */
export const imageBody = z.looseObject({
  prompt: text(4000),
  model: nullish(str(128)),
  n: nullish(intLike(1, 4)),
  size: nullish(str(32)),
  response_format: nullish(oneOf(['url', 'b64_json'])),
  output_format: nullish(oneOf(['png', 'jpeg'])),
  seed: nullish(intLike(0, 2 ** 32 - 1)),
  stream: nullish(z.union([bool(), oneOf(['true', 'false'])])),
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

function imageJob(body: z.infer<typeof imageBody>, image?: LoadedInput): ImageJob {
  if (body.stream === true || body.stream === 'true') throw badRequest('stream', "'stream' must be false: streaming image generation is not supported");
  return {
    model: body.model ?? undefined,
    prompt: body.prompt,
    n: body.n ?? 1,
    ...parseImageSize(body.size),
    seed: body.seed ?? undefined,
    format: body.output_format ?? 'png',
    responseFormat: body.response_format ?? 'url',
    image,
  };
}

async function respond(c: Context<AppEnv>, job: ImageJob, scope: string, digest: string) {
  const idem = await idempotencyFrom(c.req.header('idempotency-key'), scope, digest);
  const ctx = ctxOf(c);
  const out = await runImages(ctx, job, idem);
  c.header('x-phi-cost-micro', String(out.costMicro));
  if (out.replayed) c.header('idempotent-replayed', 'true');
  // b64_json bodies stream their base64 from the image bytes (never one big string in memory).
  if (job.responseFormat === 'url') return c.json(out.body);
  const json = jsonStream(out.body);
  return c.body(sized(json), 200, { 'content-type': 'application/json' });
}

/**
 * OpenAI image edits (multipart, as the SDK's images.edit sends it): one input image (`image`, or a single
 * `image[]`), a prompt and the generation fields as text. Image-to-image on the same model, billed the same.
 */
async function readEdit(c: Context<AppEnv>): Promise<{ job: ImageJob; digest: string }> {
  if (!(c.req.header('content-type') ?? '').toLowerCase().startsWith('multipart/form-data')) {
    throw badRequest(null, 'Image edits are multipart/form-data: the image as a file part named image');
  }
  let form: FormData;
  try {
    form = await c.req.raw.formData();
  } catch {
    throw badRequest(null, 'The multipart body could not be parsed');
  }
  const fields: Record<string, string> = {};
  const files: [string, File][] = [];
  const sig: string[] = [];
  for (const [name, value] of form) {
    if (typeof value === 'string') {
      fields[name] = value;
      sig.push(`${name}=${value}`);
    } else {
      files.push([name, value as File]);
      sig.push(`${name}:${await fileDigest(value as File)}`);
    }
  }
  if (files.some(([name]) => name === 'mask')) throw badRequest('mask', "'mask' is not supported: the whole image is edited");
  const images = files.filter(([name]) => name === 'image' || name === 'image[]');
  if (images.length !== 1 || images.length !== files.length) throw badRequest('image', "'image' must be exactly one image file (PNG, JPEG or WebP)");
  const [field, file] = images[0]!;
  const image = await typedInput(file, 'image', field);
  return { job: imageJob(parse(imageBody, fields), image), digest: await sha256Hex(sig.join('\n')) };
}

export const images = new Hono<AppEnv>()
  .post('/images/generations', async (c) => {
    const raw = await c.req.text();
    return respond(c, imageJob(parse(imageBody, parseJson(raw))), 'images', await sha256Hex(raw));
  })
  .post('/images/edits', async (c) => {
    const { job, digest } = await readEdit(c);
    return respond(c, job, 'edits', digest);
  });
