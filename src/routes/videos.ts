import { Hono } from 'hono/tiny';
import type { Context } from 'hono';
import * as z from 'zod/mini';
import type { AppEnv } from '../app-env';
import { secondsString } from '../catalog/video';
import { badRequest, notFound } from '../http/errors';
import { parse, parseJson } from '../http/validate';
import type { Job } from '../jobs/id';
import { proxyFile, serveMedia } from '../media/store';
import { idempotencyFrom } from '../pipeline/admit';
import { ctxOf } from '../pipeline/context';
import { enqueueVideo, loadJob, pollJob, recordEnqueue, type Polled, type VideoInput } from '../pipeline/videos';
import { providerFor } from '../providers';
import type { InputFile } from '../providers/types';
import { b64url, sha256Hex } from '../http/crypto';
import type { UrlRules } from '../http/urls';
import { checkInputUrl, dataUriInput, typedInput, type InputKind } from '../media/inputs';

const nullish = <T extends z.ZodMiniType>(t: T) => z.optional(z.nullable(t));
const mediaUrl = z.string().check(z.regex(/^(https?:\/\/|data:)/i, 'must be an https or data: URL'), z.maxLength(16 * 1024 * 1024));
const numeric = z.pipe(z.union([z.number(), z.string().check(z.regex(/^\d+(\.\d+)?$/, 'must be a number'))]), z.transform(Number));

const videoBody = z.looseObject({
  prompt: z.string().check(z.trim(), z.minLength(1, 'must not be empty'), z.maxLength(4000, 'must be at most 4000 characters')),
  model: nullish(z.string()),
  seconds: nullish(numeric),
  frames: nullish(z.pipe(numeric, z.int())),
  size: nullish(z.string()),
  seed: nullish(z.pipe(numeric, z.int().check(z.gte(0), z.lte(2 ** 32 - 1)))),
  image_url: nullish(mediaUrl),
  audio_url: nullish(mediaUrl),
  input_reference: nullish(z.object({ image_url: mediaUrl })),
});

const ALLOWED_SIZES = /^(\d{3,4})x(\d{3,4})$/;

function parseSize(size: string | null | undefined): { width: number; height: number } {
  const m = (size ?? '1280x720').match(ALLOWED_SIZES);
  const width = Number(m?.[1]);
  const height = Number(m?.[2]);
  if (!m || [width, height].some((d) => d < 256 || d > 1920 || d % 16 !== 0)) {
    throw badRequest('size', `Unsupported size '${size}': use WIDTHxHEIGHT, each side 256-1920 and a multiple of 16 (e.g. 1280x720, 720x1280)`);
  }
  return { width, height };
}

/** JSON or multipart/form-data (the OpenAI SDK's videos.create); files and data: URIs are typed by their bytes. */
async function readVideoRequest(c: Context<AppEnv>, rules: UrlRules): Promise<{ input: VideoInput; digest: string }> {
  const type = c.req.header('content-type') ?? '';
  let fields: Record<string, unknown>;
  const files: { image?: InputFile; audio?: InputFile } = {};
  // What an Idempotency-Key is bound to: a digest of the fields (files by their own digest); the text is not kept.
  let digest: string;
  if (type.startsWith('multipart/form-data')) {
    let form: FormData;
    try {
      form = await c.req.raw.formData();
    } catch {
      throw badRequest(null, 'The multipart body could not be parsed');
    }
    fields = {};
    const sig: string[] = [];
    for (const [name, value] of form) {
      if (typeof value === 'string') {
        if (name === 'input_reference[image_url]') fields.input_reference = { image_url: value };
        else fields[name] = value;
        sig.push(`${name}=${value}`);
        continue;
      }
      const kind = name === 'input_reference' || name === 'image' ? 'image' : name === 'audio' || name === 'audio_file' ? 'audio' : null;
      if (!kind) throw badRequest(name, `Unexpected file field '${name}': send the image as 'input_reference' and the audio as 'audio'`);
      files[kind] = { field: name, loaded: await typedInput(value as File, kind, name) };
      sig.push(`${name}:${await fileDigest(value as File)}`);
    }
    digest = await sha256Hex(sig.join('\n'));
  } else {
    const raw = await c.req.text();
    digest = await sha256Hex(raw);
    fields = parseJson(raw);
  }
  const body = parse(videoBody, fields);
  const imageField = body.image_url ? 'image_url' : 'input_reference.image_url';
  const imageUrl = body.image_url ?? body.input_reference?.image_url;
  const image = files.image ?? (imageUrl ? await urlInput(imageUrl, 'image', imageField, rules) : undefined);
  const audio = files.audio ?? (body.audio_url ? await urlInput(body.audio_url, 'audio', 'audio_url', rules) : undefined);
  return {
    digest,
    input: {
      prompt: body.prompt,
      model: body.model ?? undefined,
      seconds: body.seconds ?? undefined,
      frames: body.frames ?? undefined,
      ...parseSize(body.size),
      seed: body.seed ?? undefined,
      image,
      audio,
    },
  };
}

/** A URL input: data: URIs are decoded and typed now; other URLs must pass the fetch rules (fetched later, if at all). */
async function urlInput(url: string, kind: InputKind, field: string, rules: UrlRules): Promise<InputFile> {
  if (url.startsWith('data:')) return { field, loaded: await dataUriInput(url, kind, field) };
  checkInputUrl(url, field, rules);
  return { field, url };
}

async function fileDigest(file: File): Promise<string> {
  const digest = new crypto.DigestStream('SHA-256');
  await file.stream().pipeTo(digest);
  return b64url(new Uint8Array(await digest.digest));
}

/** The OpenAI Video object (all fields present), plus `url` / `cost_micro` extensions when completed. */
function videoObject(id: string, job: Job, state: Polled | { status: 'queued'; progress: 0 }) {
  const done = state.status === 'completed';
  return {
    id,
    object: 'video',
    model: job.m,
    status: state.status,
    progress: done ? 100 : state.status === 'failed' ? 0 : state.progress,
    created_at: job.t,
    completed_at: done ? state.completedAt : null,
    expires_at: null,
    prompt: null,
    size: job.s,
    seconds: secondsString({ frames: job.f, fps: job.fps }),
    remixed_from_video_id: null,
    error: state.status === 'failed' ? { code: state.code, message: state.message } : null,
    ...(done && { url: state.url, cost_micro: state.costMicro }),
  };
}

const POLL_AFTER_MS = '2000';

async function enqueue(c: Context<AppEnv>) {
  const ctx = ctxOf(c);
  const { input, digest } = await readVideoRequest(c, ctx.urlRules);
  const idem = await idempotencyFrom(c.req.header('idempotency-key'), 'videos', digest);
  const out = await enqueueVideo(ctx, input, idem);
  c.header('x-phi-cost-micro', '0');
  if ('replay' in out) {
    c.header('idempotent-replayed', 'true');
    return c.json(out.replay as object);
  }
  const body = videoObject(out.id, out.job, { status: 'queued', progress: 0 });
  await recordEnqueue(ctx, out, idem, body);
  c.header('openai-poll-after-ms', POLL_AFTER_MS);
  return c.json(body);
}

/** Polls and downloads count against the key's limit in their own (larger) window. */
async function pollFor(c: Context<AppEnv>) {
  const ctx = ctxOf(c);
  const id = c.req.param('id')!;
  const job = await loadJob(ctx, id);
  return { ctx, id, job, state: await pollJob(ctx, job, id) };
}

export const videos = new Hono<AppEnv>()
  .post('/videos', enqueue)
  .post('/videos/generations', enqueue)
  .get('/videos/:id', async (c) => {
    const { id, job, state } = await pollFor(c);
    c.header('x-phi-cost-micro', String(state.status === 'completed' && state.chargedNow ? state.costMicro : 0));
    if (state.status === 'queued' || state.status === 'in_progress') c.header('openai-poll-after-ms', POLL_AFTER_MS);
    return c.json(videoObject(id, job, state));
  })
  .get('/videos/:id/content', async (c) => {
    const variant = c.req.query('variant');
    if (variant && variant !== 'video') throw badRequest('variant', `Variant '${variant}' is not available; only 'video'`);
    const { ctx, job, state } = await pollFor(c);
    if (state.status !== 'completed') throw notFound(`Video is not ready (status ${state.status})`);
    let res: Response | null;
    if (state.mediaKey) {
      // Re-hosted: served from R2 (no provider call, no CDN read).
      res = ctx.env.MEDIA ? await serveMedia(ctx.env.MEDIA, state.mediaKey, c.req.raw) : null;
      if (!res) throw notFound('The video is no longer available');
    } else {
      const asset = state.asset!;
      const upstream = await providerFor(job.p, ctx.cfg).open(asset, c.req.header('range'));
      if (!upstream.ok && upstream.status !== 416) throw notFound('The video is no longer available upstream');
      res = proxyFile(upstream, asset.kind === 'worker' ? asset.contentType : 'video/mp4', false);
    }
    // A raw Response does not inherit c.header(): the first download can be the request that settles the bill.
    res.headers.set('x-phi-cost-micro', String(state.chargedNow ? state.costMicro : 0));
    return res;
  });
