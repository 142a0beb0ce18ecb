import { Hono } from 'hono/tiny';
import type { Context } from 'hono';
import * as z from 'zod/mini';
import type { AppEnv } from '../app-env';
import { secondsString } from '../catalog/video';
import { ApiError, badRequest, notFound } from '../http/errors';
import { bodyText, intLike, nullish, numeric, oneOf, parse, parseJson, str, text } from '../http/validate';
import { decodeJob, type Job } from '../jobs/id';
import type { JobPage } from '../ledger/types';
import { proxyFile, serveMedia } from '../media/store';
import { admit, idempotencyFrom, listPage, type IdempotencyInput } from '../pipeline/admit';
import { ctxOf, type Ctx } from '../pipeline/context';
import { deleteJob, enqueueVideo, fromRecord, jobKey, loadJob, pollJob, recordEnqueue, type Polled, type VideoInput } from '../pipeline/videos';
import { providerFor } from '../providers';
import type { InputFile } from '../providers/types';
import { fileDigest, sha256Hex } from '../http/crypto';
import type { UrlRules } from '../http/urls';
import { checkInputUrl, dataUriInput, fetchInput, typedInput, type InputKind } from '../media/inputs';
import { retentionMs } from '../jobs/retention';
import { phiMode, screenRequest } from '../pipeline/phi';
import { audit } from '../audit/trail';

const mediaUrl = z.string({ error: 'must be an https URL or a data: URI' }).check(
  z.regex(/^(https?:\/\/|data:)/i, 'must be an https URL or a data: URI'),
  z.maxLength(2 * 1024 * 1024, 'must be at most 2 MiB; send files as multipart'),
);

export const videoBody = z.looseObject({
  prompt: text(4000),
  model: nullish(str(128)),
  seconds: nullish(numeric('a number of seconds')),
  frames: nullish(intLike(1, 10_000)),
  size: nullish(str(32)),
  seed: nullish(intLike(0, 2 ** 32 - 1)),
  image_url: nullish(mediaUrl),
  audio_url: nullish(mediaUrl),
  input_reference: nullish(z.object({ image_url: mediaUrl }, { error: 'must be a file, or an object with image_url' })),
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
  const names: { field: string; name: string }[] = [];
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
      names.push({ field: name, name: (value as File).name });
      files[kind] = { field: name, loaded: await typedInput(value as File, kind, name) };
      sig.push(`${name}:${await fileDigest(value as File)}`);
    }
    digest = await sha256Hex(sig.join('\n'));
  } else {
    const raw = await bodyText(c.req);
    digest = await sha256Hex(raw);
    fields = parseJson(raw);
  }
  // PHI screen of every text field and file name, before any input is fetched and before the ledger is asked.
  screenRequest(c.get('cfg'), c.get('key'), fields, names);
  const body = parse(videoBody, fields);
  const imageField = body.image_url ? 'image_url' : 'input_reference.image_url';
  const imageUrl = body.image_url ?? body.input_reference?.image_url;
  // Under PHI screening the gateway fetches URL inputs itself (same fetch rules) so they are DICOM-checked and
  // stripped of metadata like uploads; with screening off, fal fetches them (the worker tier is fetched later).
  const fetchNow = phiMode(c.get('cfg'), c.get('key')) === 'block' ? Math.min(c.get('cfg').UPSTREAM_TIMEOUT_SECONDS * 1000, 30_000) : 0;
  // Every URL passes the fetch rules before any is fetched: a refused one is named whatever the other holds.
  if (!files.image && imageUrl) checkInputUrl(imageUrl, imageField, rules);
  if (!files.audio && body.audio_url) checkInputUrl(body.audio_url, 'audio_url', rules);
  const image = files.image ?? (imageUrl ? await urlInput(imageUrl, 'image', imageField, rules, fetchNow) : undefined);
  const audio = files.audio ?? (body.audio_url ? await urlInput(body.audio_url, 'audio', 'audio_url', rules, fetchNow) : undefined);
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

/** A URL input: data: URIs are decoded and typed now; other URLs must pass the fetch rules and are fetched now (`fetchMs` > 0) or later. */
async function urlInput(url: string, kind: InputKind, field: string, rules: UrlRules, fetchMs: number): Promise<InputFile> {
  if (url.startsWith('data:')) return { field, loaded: await dataUriInput(url, kind, field) };
  checkInputUrl(url, field, rules);
  return fetchMs > 0 ? { field, loaded: await fetchInput(url, kind, field, rules, fetchMs) } : { field, url };
}

type State = Polled | { status: 'queued'; progress: 0; remixedFrom?: string | null };

/**
 * The OpenAI Video object, every field present. `seconds` and `size` say what is made: until completion the
 * planned length (what was asked, on the route's frame grid, clamped to its longest) and the asked size; once
 * completed, the delivered file's own duration and picture size (read from the MP4 at settlement; the planned
 * length / asked size when the file does not say). `progress` is an estimate (see catalog/progress.ts).
 * Extensions when completed: `url`, `cost_micro` and `billed_seconds` (what the bill is for: the delivered
 * duration, at most the planned one).
 */
function videoObject(id: string, job: Job, state: State) {
  const done = state.status === 'completed';
  const planned = secondsString({ frames: job.f, fps: job.fps });
  return {
    id,
    object: 'video',
    model: job.m,
    status: state.status,
    progress: done ? 100 : state.status === 'failed' ? 0 : state.progress,
    created_at: job.t,
    completed_at: done ? state.completedAt : null,
    expires_at: done ? state.expiresAt : null,
    prompt: null,
    size: (done && state.size) || job.s,
    seconds: done && state.deliveredMs > 0 ? String(state.deliveredMs / 1000) : planned,
    remixed_from_video_id: state.remixedFrom ?? null,
    error: state.status === 'failed' ? { code: state.code, message: state.message } : null,
    ...(done && { url: state.url, cost_micro: state.costMicro, billed_seconds: String(state.billedMs / 1000) }),
  };
}

const POLL_AFTER_MS = '2000';

/** Enqueues `input` and answers the queued Video object (or the Idempotency-Key's replay). */
async function start(c: Context<AppEnv>, ctx: Ctx, input: VideoInput, idem: IdempotencyInput | undefined, from?: string) {
  const out = await enqueueVideo(ctx, input, idem);
  c.header('x-phi-cost-micro', '0');
  if ('replay' in out) {
    c.header('idempotent-replayed', 'true');
    return c.json(out.replay as object);
  }
  const body = videoObject(out.id, out.job, { status: 'queued', progress: 0, remixedFrom: from ?? null });
  // The job's record and replay, then the watcher's first look (which finds the record).
  await recordEnqueue(ctx, out, idem, body, from);
  c.header('openai-poll-after-ms', POLL_AFTER_MS);
  return c.json(body);
}

async function enqueue(c: Context<AppEnv>) {
  const ctx = ctxOf(c);
  const { input, digest } = await readVideoRequest(c, ctx.urlRules);
  return start(c, ctx, input, await idempotencyFrom(c.req.header('idempotency-key'), 'videos', digest));
}

/** Polls and downloads count against the key's limit in their own (larger) window. */
async function pollFor(c: Context<AppEnv>) {
  const ctx = ctxOf(c);
  const id = c.req.param('id')!;
  const job = await loadJob(ctx, id);
  return { ctx, id, job, state: await pollJob(ctx, job, id) };
}

export const listQuery = z.object({
  after: nullish(str(300)),
  limit: nullish(intLike(1, 100)),
  order: nullish(oneOf(['asc', 'desc'])),
});

export const remixBody = z.looseObject({ prompt: text(4000) });

export const videos = new Hono<AppEnv>()
  .post('/videos', enqueue)
  .post('/videos/generations', enqueue)
  // The account's videos, newest first by default; `after` is the last id of the previous page.
  .get('/videos', async (c) => {
    const ctx = ctxOf(c);
    const q = parse(listQuery, c.req.query());
    const order = q.order ?? 'desc';
    let after: JobPage['after'];
    if (q.after) {
      const job = await decodeJob(ctx.cfg.SIGNING_SECRET, q.after, ctx.key.account);
      if (!job) throw badRequest('after', "'after' must be the id of one of your videos");
      after = { createdAt: job.t, key: jobKey(job) };
    }
    const page = await listPage(ctx, { after, limit: q.limit ?? 20, order });
    const data = [];
    for (const record of page.jobs) {
      const job = await decodeJob(ctx.cfg.SIGNING_SECRET, record.id, ctx.key.account);
      if (!job || (job.p === 'fal') !== (ctx.key.tier === 'paid')) continue;
      data.push(videoObject(record.id, job, await fromRecord(ctx, record, job)));
    }
    const issued = data.filter((v) => v.status === 'completed').length;
    if (issued) await audit(ctx, ctx.key.account, { type: 'media.issued', request_id: ctx.requestId, key_id: ctx.key.keyId, detail: { kind: 'video', count: issued } });
    return c.json({ object: 'list', data, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null, has_more: page.hasMore });
  })
  .get('/videos/:id', async (c) => {
    const { ctx, id, job, state } = await pollFor(c);
    c.header('x-phi-cost-micro', String(state.status === 'completed' && state.chargedNow ? state.costMicro : 0));
    if (state.status === 'completed') await audit(ctx, job.a, { type: 'media.issued', request_id: ctx.requestId, key_id: ctx.key.keyId, detail: { kind: 'video', video_id: id } });
    if (state.status === 'queued' || state.status === 'in_progress') c.header('openai-poll-after-ms', POLL_AFTER_MS);
    return c.json(videoObject(id, job, state));
  })
  .delete('/videos/:id', async (c) => {
    const ctx = ctxOf(c);
    const id = c.req.param('id');
    await admit(ctx, {});
    await deleteJob(ctx, await loadJob(ctx, id), id);
    return c.json({ id, object: 'video.deleted', deleted: true });
  })
  // A new job with the original's model, length and size and a new prompt (a new charge).
  .post('/videos/:id/remix', async (c) => {
    const ctx = ctxOf(c);
    const id = c.req.param('id');
    const original = await loadJob(ctx, id);
    const raw = await bodyText(c.req);
    const remix = parseJson(raw);
    screenRequest(ctx.cfg, ctx.key, remix);
    const { prompt } = parse(remixBody, remix);
    if (original.x) {
      throw badRequest('id', 'A video made from input files (an image or audio) cannot be remixed: create a new one with the files');
    }
    const [width, height] = original.s.split('x').map(Number) as [number, number];
    const input: VideoInput = {
      prompt,
      model: original.m,
      ...(original.q > 0 ? { seconds: original.q / 1000 } : { frames: original.f }),
      width,
      height,
    };
    const idem = await idempotencyFrom(c.req.header('idempotency-key'), 'remix', await sha256Hex(`${id}\n${raw}`));
    return start(c, ctx, input, idem, id);
  })
  .get('/videos/:id/content', async (c) => {
    const variant = c.req.query('variant');
    if (variant && variant !== 'video') throw badRequest('variant', `'variant' must be video: thumbnails and spritesheets are not available`);
    const { ctx, job, state } = await pollFor(c);
    if (state.status === 'failed') {
      throw new ApiError(409, 'video_not_ready', 'The video failed; it has no content', null, { 'x-should-retry': 'false' });
    }
    if (state.status !== 'completed') {
      throw new ApiError(409, 'video_not_ready', `The video is not ready yet (status ${state.status}); poll it until it is completed`, null, { 'retry-after': '2' });
    }
    let res: Response | null;
    if (state.mediaKey) {
      // Re-hosted: served from R2 (no provider call, no CDN read).
      // Past its retention end (MEDIA_RETENTION_HOURS) the copy is gone: 404, deleted in the background.
      res = ctx.env.MEDIA ? await serveMedia(ctx.env.MEDIA, state.mediaKey, c.req.raw, undefined, { retentionMs: retentionMs(ctx.cfg), exec: ctx.exec }) : null;
      if (!res) throw notFound('The video is no longer available');
    } else {
      const asset = state.asset!;
      const upstream = await providerFor(job.p, ctx.cfg).open(asset, c.req.header('range'));
      if (!upstream.ok && upstream.status !== 416) throw notFound('The video is no longer available upstream');
      res = proxyFile(upstream, asset.kind === 'worker' ? asset.contentType : 'video/mp4', false);
    }
    // A raw Response does not inherit c.header(): the first download can be the request that settles the bill.
    res.headers.set('x-phi-cost-micro', String(state.chargedNow ? state.costMicro : 0));
    await audit(ctx, job.a, { type: 'media.downloaded', request_id: ctx.requestId, key_id: ctx.key.keyId, detail: { kind: 'video', video_id: c.req.param('id')!, status: res.status } });
    return res;
  });
