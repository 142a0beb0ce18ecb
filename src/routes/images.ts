// OpenAI image requests, generations (JSON) and edits (multipart, as the SDK's images.edit sends them). Every
// parameter OpenAI documents for these two endpoints is named here: honoured (mapped onto the upstream in
// src/pipeline/image-plan.ts), or refused with a 400 that names it and says what is served. Nothing is silently
// dropped: a parameter that is not OpenAI's (or this gateway's `seed`) is a 400 too. README "OpenAI image parameters".
import { Hono } from 'hono/tiny';
import type { Context } from 'hono';
import * as z from 'zod/mini';
import type { AppEnv } from '../app-env';
import { sha256Hex } from '../http/crypto';
import { badRequest } from '../http/errors';
import { bodyText, bool, intLike, nullish, numeric, parse, parseJson, str, text } from '../http/validate';
import { idempotencyFrom } from '../pipeline/admit';
import { ctxOf } from '../pipeline/context';
import { runImages, type ImageJob } from '../pipeline/images';
import type { Quality } from '../pipeline/image-plan';
import { screenRequest } from '../pipeline/phi';
import { fileDigest } from '../http/crypto';
import { typedInput } from '../media/inputs';
import { chain, jsonStream, sized, type JsonStream } from '../http/json-stream';

/** OpenAI's GPT image model names: they answer b64_json unless the caller asks for url (as OpenAI does). */
const GPT_IMAGE = /^(gpt-image-|chatgpt-image-)/i;

/** OpenAI allows up to 16 input images for the GPT image models. */
export const MAX_EDIT_IMAGES = 16;

/** One of `values`; for a value OpenAI documents but this gateway cannot serve, the message also says why. */
function choice<const T extends readonly [string, ...string[]]>(values: T, why: Record<string, string> = {}) {
  const base = values.length === 1 ? `must be ${values[0]}` : `must be one of ${values.join(', ')}`;
  return z.enum(values, {
    error: (issue) => {
      const reason = typeof issue.input === 'string' ? why[issue.input] : undefined;
      return reason ? `${base}: ${reason}` : base;
    },
  });
}

/** A number that may only take one value here (multipart sends it as text); the message says why. */
const only = (value: number, message: string) => z.pipe(numeric(message.replace(/^must be /, '')), z.literal(value, { error: message }));

const QUALITIES = ['auto', 'low', 'medium', 'high', 'standard', 'hd'] as const;

/** The parameters generations and edits share. */
const shared = {
  prompt: text(4000),
  model: nullish(str(128)),
  n: nullish(intLike(1, 4)),
  size: nullish(str(32)),
  quality: nullish(choice(QUALITIES)),
  response_format: nullish(choice(['url', 'b64_json'])),
  output_format: nullish(choice(['png', 'jpeg'], { webp: 'the FLUX models behind this gateway write PNG or JPEG, not WebP' })),
  output_compression: nullish(only(100, "must be 100 (or omitted): the providers' encoders have a fixed compression level")),
  background: nullish(choice(['auto', 'opaque'], { transparent: 'the FLUX models cannot render transparent backgrounds' })),
  moderation: nullish(choice(['auto'], { low: "the provider's safety checker always runs" })),
  user: nullish(str(256)),
  stream: nullish(z.union([bool(), choice(['true', 'false'])])),
  partial_images: nullish(only(0, 'must be 0 (or omitted): only the final image is sent, the models give no partial images')),
  seed: nullish(intLike(0, 2 ** 32 - 1)),
};

/** POST /v1/images/generations (OpenAI CreateImageRequest, plus `seed`). */
export const imageBody = z.strictObject({
  ...shared,
  style: nullish(z.null({ error: 'is not supported: it is a DALL·E 3 setting the FLUX models have no equivalent for; omit it' })),
});

/** POST /v1/images/edits text fields (OpenAI CreateImageEditRequest, plus `seed`); `image` / `image[]` and `mask` are files. */
export const editBody = z.strictObject({
  ...shared,
  input_fidelity: nullish(choice(['low', 'high'])),
});

/** A parameter name that may be repeated in an answer (anything else is not echoed). */
const NAME = /^[a-z_][a-z0-9_]{0,63}(\[\])?$/i;

/** A field neither OpenAI nor this gateway defines for this endpoint: a 400, never silently ignored. */
function rejectUnknown(body: Record<string, unknown>, schema: z.ZodMiniObject, where: string, elsewhere: Record<string, string> = {}) {
  const shape = schema.def.shape as Record<string, unknown>;
  for (const k of Object.keys(body)) {
    if (k in shape) continue;
    if (!NAME.test(k)) throw badRequest(null, `The request body has a field that is not a parameter of ${where}`);
    throw badRequest(k, `'${k}' is not a parameter of ${where}${elsewhere[k] ? ` (${elsewhere[k]})` : ''}`);
  }
}

/** WIDTHxHEIGHT with each side 256–2048 and a multiple of 16; `auto` (or nothing) is 1024x1024. */
export function parseImageSize(size: string | null | undefined): { width: number; height: number } {
  const s = !size || size.trim().toLowerCase() === 'auto' ? '1024x1024' : size.trim().toLowerCase();
  const m = s.match(/^(\d{2,5})x(\d{2,5})$/);
  const width = Number(m?.[1]);
  const height = Number(m?.[2]);
  if (!m || [width, height].some((d) => d < 256 || d > 2048 || d % 16 !== 0)) {
    throw badRequest('size', `Unsupported size '${size}': use 'auto' or WIDTHxHEIGHT with each side 256-2048 and a multiple of 16 (e.g. 1024x1024, 1536x1024)`);
  }
  return { width, height };
}

type Fields = z.infer<typeof imageBody> | z.infer<typeof editBody>;

interface Asked {
  job: ImageJob;
  stream: boolean;
}

function imageJob(body: Fields, images: ImageJob['images'] = []): Asked {
  const stream = body.stream === true || body.stream === 'true';
  if (stream && body.response_format === 'url') {
    throw badRequest('response_format', "'response_format' must be b64_json (or omitted) when stream is true: streamed images arrive as base64");
  }
  const model = body.model?.trim() || undefined;
  const size = !body.size || body.size.trim().toLowerCase() === 'auto' ? 'auto' : parseImageSize(body.size);
  const job: ImageJob = {
    model,
    prompt: body.prompt,
    n: body.n ?? 1,
    size,
    quality: (body.quality ?? 'auto') as Quality,
    fidelity: 'input_fidelity' in body ? (body.input_fidelity ?? undefined) : undefined,
    seed: body.seed ?? undefined,
    format: body.output_format ?? 'png',
    // Defaults follow the name the caller used: GPT image names answer b64_json (as OpenAI does), DALL·E names and
    // the gateway's own ids a URL. A stream always carries base64.
    responseFormat: body.response_format ?? (stream || (model && GPT_IMAGE.test(model)) ? 'b64_json' : 'url'),
    images,
  };
  return { job, stream };
}

const enc = new TextEncoder();

/** Byte strings and JSON streams as one stream of the summed length. */
function concat(parts: (Uint8Array | JsonStream)[]): JsonStream {
  const length = parts.reduce((n, p) => n + (p instanceof Uint8Array ? p.byteLength : p.length), 0);
  return { body: chain(parts.map((p) => (p instanceof Uint8Array ? p : p.body))), length };
}

interface ImagesBody {
  created: number;
  data: { b64_json?: unknown }[];
  size?: string;
  quality?: string;
  background?: string;
  output_format?: string;
}

/**
 * A streamed answer (OpenAI's `stream: true`): one `image_generation.completed` (edits: `image_edit.completed`)
 * event per image. No partial images precede them: the models deliver only final images.
 */
function eventStream(type: string, body: ImagesBody): JsonStream {
  const parts = body.data.flatMap((item) => [
    enc.encode(`event: ${type}\ndata: `),
    jsonStream({
      type,
      b64_json: item.b64_json,
      created_at: body.created,
      size: body.size ?? 'auto',
      quality: body.quality ?? 'auto',
      background: body.background ?? 'auto',
      output_format: body.output_format,
    }),
    enc.encode('\n\n'),
  ]);
  return concat(parts);
}

async function respond(c: Context<AppEnv>, { job, stream }: Asked, scope: 'images' | 'edits', digest: string) {
  const idem = await idempotencyFrom(c.req.header('idempotency-key'), scope, digest);
  const ctx = ctxOf(c);
  const out = await runImages(ctx, job, idem);
  c.header('x-phi-cost-micro', String(out.costMicro));
  c.header('x-phi-attempts', String(out.attempts));
  if (out.route) c.header('x-phi-route', out.route);
  if (out.replayed) c.header('idempotent-replayed', 'true');
  if (stream) {
    const events = eventStream(scope === 'edits' ? 'image_edit.completed' : 'image_generation.completed', out.body as ImagesBody);
    return c.body(sized(events), 200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
  }
  // b64_json bodies stream their base64 from the image bytes (never one big string in memory).
  if (job.responseFormat === 'url') return c.json(out.body);
  const json = jsonStream(out.body);
  return c.body(sized(json), 200, { 'content-type': 'application/json' });
}

const FILE_PARTS = new Set(['image', 'image[]', 'mask']);

/**
 * OpenAI image edits (multipart): `image` or `image[]` (one file, or up to 16 as repeated `image[]` parts), a
 * prompt and the other fields as text. One image is image-to-image on the same model; several go to the
 * multi-image endpoint (FAL_IMAGE_MULTI_EDIT_MODEL). Billed per output image, like a generation.
 */
async function readEdit(c: Context<AppEnv>): Promise<{ asked: Asked; digest: string }> {
  if (!(c.req.header('content-type') ?? '').toLowerCase().startsWith('multipart/form-data')) {
    throw badRequest(null, 'Image edits are multipart/form-data: the image as a file part named image (several: image[])');
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
  // PHI screen first (text fields and file names): nothing of a refused request is read further or stored.
  screenRequest(c.get('cfg'), c.get('key'), fields, files.map(([field, f]) => ({ field, name: f.name })));
  for (const name of Object.keys(fields)) {
    if (FILE_PARTS.has(name)) throw badRequest(name, `'${name}' must be a file part (PNG, JPEG or WebP), not text`);
  }
  for (const [name] of files) {
    if (FILE_PARTS.has(name)) continue;
    if (!NAME.test(name)) throw badRequest(null, 'The request has a file part that is not a parameter of POST /v1/images/edits');
    throw badRequest(name, `'${name}' is not a file parameter of POST /v1/images/edits (files: image, image[], mask)`);
  }
  if (files.some(([name]) => name === 'mask')) {
    throw badRequest('mask', "'mask' is not supported: the edit models here re-render the whole image (no inpainting); omit it");
  }
  rejectUnknown(fields, editBody, 'POST /v1/images/edits', { style: 'a generations parameter' });
  const parsed = parse(editBody, fields);
  const parts = files.filter(([name]) => name === 'image' || name === 'image[]');
  if (!parts.length) throw badRequest('image', "'image' is required: the image to edit as a file part (several: repeated image[] parts)");
  if (parts.length > MAX_EDIT_IMAGES) throw badRequest('image', `'image' takes at most ${MAX_EDIT_IMAGES} images (${parts.length} were sent)`);
  const images = [];
  for (const [field, file] of parts) images.push(await typedInput(file, 'image', field));
  return { asked: imageJob(parsed, images), digest: await sha256Hex(sig.join('\n')) };
}

export const images = new Hono<AppEnv>()
  .post('/images/generations', async (c) => {
    const raw = await bodyText(c.req);
    const body = parseJson(raw);
    screenRequest(c.get('cfg'), c.get('key'), body);
    rejectUnknown(body, imageBody, 'POST /v1/images/generations', { image: 'edits take images: POST /v1/images/edits', mask: 'an edits parameter', input_fidelity: 'an edits parameter' });
    return respond(c, imageJob(parse(imageBody, body)), 'images', await sha256Hex(raw));
  })
  .post('/images/edits', async (c) => {
    const { asked, digest } = await readEdit(c);
    return respond(c, asked, 'edits', digest);
  });
