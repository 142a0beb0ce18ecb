// fal.ai adapter on plain fetch (see README "Why not @fal-ai/client"): sync runner for images, queue for video.
// Every request carries `Authorization: Key …` and `X-Fal-Store-IO: 0`. Status/result URLs are always rebuilt
// from the configured queue host + endpoint id + request id, never taken from a response or a job id. Output
// URLs are used only when their host is on FAL_MEDIA_HOSTS; fal's own error text never reaches a customer.
import * as z from 'zod/mini';
import type { Config } from '../config';
import type { Route } from '../catalog/resolve';
import { ApiError, badRequest, providerUnavailable, upstreamError, upstreamTimeout } from '../http/errors';
import { Bytes, jsonBody } from '../http/json-stream';
import { allowedOutput } from '../http/urls';
import { Breaker, falBreakerKey } from './breaker';
import { retryAfterMs, retrying, UpstreamError } from './retry';
import type { Asset, ImageRequest, ImageResult, ImageRunOptions, InputFile, Provider, RunOptions, VideoRequest, VideoState } from './types';
import { expectShape, fetchFollowing, readJsonBody, upstreamFetch } from './upstream';
import { noUsableVideo, UnusableOutput } from './unusable';

// What fal returns, validated at the boundary (anything else is a 502, never a 500).
const output = z.object({ url: z.string(), content_type: z.optional(z.unknown()), width: z.optional(z.unknown()), height: z.optional(z.unknown()) });
const imagesReply = z.object({ images: z.array(output), prompt: z.optional(z.unknown()) });
const submitReply = z.object({ request_id: z.string().check(z.minLength(1), z.maxLength(200)) });
const statusReply = z.object({
  status: z.enum(['IN_QUEUE', 'IN_PROGRESS', 'COMPLETED']),
  // Only while IN_QUEUE: how many requests are ahead. Anything else in its place is ignored, not an error.
  queue_position: z.optional(z.unknown()),
});
const videoReply = z.object({ video: output });

/** CDN lifetime asked of fal when outputs are re-hosted privately. */
export const FAL_SHORT_RETENTION_SECONDS = 3600;

/** `owner/alias` of an endpoint id (`ns/owner/alias` in the workflows/ and comfy/ namespaces). */
export function endpointBase(id: string): string {
  const parts = id.split('/');
  return parts.slice(0, parts[0] === 'workflows' || parts[0] === 'comfy' ? 3 : 2).join('/');
}

const encPath = (id: string) => id.split('/').map(encodeURIComponent).join('/');

const FOREIGN = 'its URL is outside the allowed hosts, FAL_MEDIA_HOSTS';
const foreignOutput = () => new UnusableOutput('The provider returned an output from an unexpected location', FOREIGN);

export class FalProvider implements Provider {
  constructor(
    private readonly cfg: Config,
    private readonly timeoutMs: number,
  ) {}

  private headers(opts?: Pick<RunOptions, 'shortRetention'>): Record<string, string> {
    if (!this.cfg.FAL_KEY) throw providerUnavailable('The paid provider is not configured');
    const h: Record<string, string> = {
      authorization: `Key ${this.cfg.FAL_KEY}`,
      'x-fal-store-io': '0',
      'content-type': 'application/json',
      accept: 'application/json',
    };
    if (opts?.shortRetention) {
      h['x-fal-object-lifecycle-preference'] = JSON.stringify({ expiration_duration_seconds: FAL_SHORT_RETENTION_SECONDS });
    }
    return h;
  }

  private async call(url: string, init: RequestInit): Promise<unknown> {
    const deadline = Date.now() + this.timeoutMs;
    const res = await upstreamFetch(url, init, this.timeoutMs);
    if (!res.ok) throw await falError(res);
    return readJsonBody(res, deadline);
  }

  /** An output URL as an asset, or a 502 when fal points somewhere not on the allow-list. */
  private asset(url: string, contentType: unknown, fallback: string): Asset {
    if (!allowedOutput(url, this.cfg.falMediaHosts)) throw foreignOutput();
    return { kind: 'url', url, contentType: typeof contentType === 'string' ? contentType : fallback };
  }

  /**
   * fal.run, synchronous: retried (src/providers/retry.ts) inside the endpoint's breaker, each attempt bounded by
   * what remains of the request's deadline, which fal also gets as X-Fal-Request-Timeout (its time-to-start
   * deadline: past it fal answers an unbilled 504 instead of starting work the gateway would abandon).
   */
  async generateImages(route: Route, req: ImageRequest, opts: ImageRunOptions): Promise<ImageResult> {
    const url = `${this.cfg.falRunBase}/${encPath(route.endpoint)}`;
    const breaker = new Breaker(falBreakerKey(this.cfg.falRunBase, route.endpoint), breakerSettings(this.cfg), opts.exec);
    const reply = await retrying(opts.budget, { breaker }, async (left) => {
      const timeoutMs = Math.min(this.timeoutMs, left);
      const deadline = Date.now() + timeoutMs;
      const { body, length } = jsonBody(imageInput(req)); // a fresh stream per attempt (when it is one)
      const headers = { ...this.headers(opts), 'content-length': String(length), 'x-fal-request-timeout': (Math.max(200, timeoutMs) / 1000).toFixed(1) };
      const res = await upstreamFetch(url, { method: 'POST', headers, body }, timeoutMs);
      if (!res.ok) throw await falError(res);
      // Answered 200: whatever happens to the body now, fal may have billed the work — never repeated.
      try {
        return expectShape(imagesReply, await readJsonBody(res, deadline));
      } catch (err) {
        throw err instanceof ApiError ? new UpstreamError(err, false, 'up') : err;
      }
    });
    const out = reply;
    const images = out.images.slice(0, req.n);
    const assets = images.map((i) => this.asset(i.url, i.content_type, `image/${req.format}`));
    if (!assets.length) throw upstreamError('The provider returned no images');
    const revised = typeof out.prompt === 'string' && out.prompt !== req.prompt ? out.prompt : undefined;
    return { assets, revisedPrompt: revised, size: reportedSize(images) };
  }

  /**
   * A queue submit is sent once, never repeated: fal documents no way to make a submit idempotent (no idempotency
   * key among its platform headers; the queue's own retries happen after it has accepted a request), so a submit
   * whose answer was lost may have created a job — repeating it could create a second. It fails mapped, and the
   * caller releases the hold. README "Retries and fallbacks".
   */
  async submitVideo(route: Route, req: VideoRequest, opts: Pick<RunOptions, 'shortRetention' | 'webhookUrl' | 'startTimeoutSec'>): Promise<string> {
    const { body, length } = jsonBody(videoInput(route, req));
    const headers: Record<string, string> = { ...this.headers(opts), 'content-length': String(length) };
    // fal's time-to-start deadline (queue wait, runner acquisition, retries): past it the request ends with a 504,
    // which fal does not bill, instead of starting work the gateway would no longer collect.
    if (opts.startTimeoutSec) headers['x-fal-request-timeout'] = String(opts.startTimeoutSec);
    const hook = opts.webhookUrl ? `?fal_webhook=${encodeURIComponent(opts.webhookUrl)}` : '';
    const reply = await this.call(`${this.cfg.falQueueBase}/${encPath(route.endpoint)}${hook}`, {
      method: 'POST',
      headers,
      body,
    });
    return expectShape(submitReply, reply).request_id;
  }

  async videoStatus(endpoint: string, requestId: string): Promise<VideoState> {
    const base = `${this.cfg.falQueueBase}/${encPath(endpointBase(endpoint))}/requests/${encodeURIComponent(requestId)}`;
    const status = expectShape(statusReply, await this.call(`${base}/status?logs=0`, { headers: this.headers() }));
    if (status.status === 'IN_QUEUE') {
      const p = status.queue_position;
      return typeof p === 'number' && Number.isInteger(p) && p >= 0 ? { status: 'queued', position: p } : { status: 'queued' };
    }
    if (status.status === 'IN_PROGRESS') return { status: 'in_progress' };
    // COMPLETED is final for failures too: the result call returns the job's error.
    const deadline = Date.now() + this.timeoutMs;
    const res = await upstreamFetch(base, { headers: this.headers() }, this.timeoutMs);
    if (!res.ok) {
      const err = await falError(res);
      return err.code === 'upstream_timeout'
        ? { status: 'failed', code: 'upstream_timeout', message: 'The provider timed out generating the video' }
        : { status: 'failed', code: 'generation_failed', message: 'The provider could not generate the video' };
    }
    // COMPLETED with a result that names no video (`{"seed":1}`, null, a bare string) or one fal may not serve from
    // here is final too: the job ends failed (nothing charged), it does not stay a 502 on every poll.
    const out = videoReply.safeParse(await readJsonBody(res, deadline));
    if (!out.success) return noUsableVideo('its result names no video');
    if (!allowedOutput(out.data.video.url, this.cfg.falMediaHosts)) return noUsableVideo(FOREIGN);
    return { status: 'completed', asset: this.asset(out.data.video.url, out.data.video.content_type, 'video/mp4') };
  }

  async cancel(endpoint: string, requestId: string): Promise<void> {
    const url = `${this.cfg.falQueueBase}/${encPath(endpointBase(endpoint))}/requests/${encodeURIComponent(requestId)}/cancel`;
    const res = await upstreamFetch(url, { method: 'PUT', headers: this.headers() }, this.timeoutMs);
    await res.body?.cancel();
  }

  async open(asset: Asset, range?: string | null): Promise<Response> {
    if (asset.kind !== 'url') throw upstreamError('Not a provider URL');
    const rules = this.cfg.falMediaHosts;
    const check = (u: string) => (allowedOutput(u, rules) ? new URL(u) : null);
    const first = check(asset.url);
    if (!first) throw foreignOutput();
    let res: Response | null;
    try {
      res = await fetchFollowing(first, check, { headers: range ? { range } : {}, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (err) {
      if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) throw upstreamTimeout();
      throw upstreamError('The provider could not be reached');
    }
    if (!res) throw foreignOutput();
    return res;
  }
}

/**
 * The input of the three image endpoint shapes, by how many images are edited. Inputs travel inline as data: URIs
 * streamed into the body. Text to image (fal-ai/flux/krea): image_size, num_inference_steps. One image
 * (fal-ai/flux-1/krea/image-to-image): image_url, strength, num_inference_steps, no size (the output has the
 * input's). Several (FAL_IMAGE_MULTI_EDIT_MODEL, fal-ai/flux-pro/kontext/multi): image_urls and an optional
 * aspect_ratio; it has no steps and no safety-checker switch (its safety_tolerance default, the strictest but one,
 * is kept).
 */
function imageInput(req: ImageRequest): Record<string, unknown> {
  const common = { prompt: req.prompt, num_images: req.n, output_format: req.format, ...(req.seed !== undefined && { seed: req.seed }) };
  const inline = (i: ImageRequest['images'][number]) => new Bytes(i.bytes, `data:${i.type};base64,`);
  const steps = req.steps !== undefined ? { num_inference_steps: req.steps } : {};
  if (req.images.length > 1) {
    return { ...common, image_urls: req.images.map(inline), ...(req.aspectRatio && { aspect_ratio: req.aspectRatio }) };
  }
  if (req.images.length === 1) {
    return { ...common, image_url: inline(req.images[0]!), ...steps, ...(req.strength !== undefined && { strength: req.strength }), enable_safety_checker: true };
  }
  return { ...common, image_size: req.preset ?? { width: req.width, height: req.height }, ...steps, enable_safety_checker: true };
}

/** The size fal reports for the images, when every image reports the same positive integers. */
function reportedSize(images: { width?: unknown; height?: unknown }[]): { width: number; height: number } | undefined {
  const ok = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0 && v <= 65_535;
  const [first] = images;
  if (!first || !ok(first.width) || !ok(first.height)) return undefined;
  return images.every((i) => i.width === first.width && i.height === first.height) ? { width: first.width, height: first.height } : undefined;
}

function videoInput(route: Route, req: VideoRequest): Record<string, unknown> {
  const seed = req.seed !== undefined ? { seed: req.seed } : {};
  const resolution = Math.min(req.width, req.height) >= 720 ? '720p' : '480p';
  if (route.canonical === 'avatar') {
    return { prompt: req.prompt, image_url: inputValue(req.image!), audio_url: inputValue(req.audio!), num_frames: req.frames, resolution, ...seed };
  }
  if (req.image) {
    const ratio = req.width === req.height ? '1:1' : req.width > req.height ? '16:9' : '9:16';
    return {
      prompt: req.prompt,
      image_url: inputValue(req.image),
      num_frames: req.frames,
      frames_per_second: req.fps,
      resolution,
      aspect_ratio: ratio,
      ...seed,
    };
  }
  return { prompt: req.prompt, num_frames: req.frames, enable_prompt_expansion: false, ...seed };
}

/**
 * fal takes inputs by URL: a customer URL is passed on (fal fetches it, not the gateway); uploaded bytes travel
 * inline as a data: URI streamed into the request body (never put on a public CDN by us).
 */
function inputValue(input: InputFile): string | Bytes {
  if ('url' in input) return input.url;
  return new Bytes(input.loaded.bytes, `data:${input.loaded.type};base64,`);
}

/** Field names fal may report in a 422 (its `loc`); anything else is not repeated to the customer. */
const FIELD = /^[a-z_][a-z0-9_]{0,63}$/i;

/** The breaker settings of the configuration. */
export const breakerSettings = (cfg: Config) => ({ threshold: cfg.BREAKER_THRESHOLD, cooldownMs: cfg.BREAKER_COOLDOWN_MS });

/** fal's answers that say the request was not run: worth another attempt (unless fal says otherwise). */
const RETRYABLE = new Set([429, 502, 503, 504]);

/**
 * Maps fal's error responses onto the gateway's codes, in the gateway's own words, classified for the retry loop:
 * 429/502/503/504 may be retried (fal's X-Fal-Retryable, when present, decides instead); a 4xx says fal is up.
 */
export async function falError(res: Response): Promise<UpstreamError> {
  const hint = res.headers.get('x-fal-retryable')?.trim().toLowerCase();
  const retryable = hint === 'true' ? res.status >= 500 || res.status === 429 : hint === 'false' ? false : RETRYABLE.has(res.status);
  const health = res.status >= 500 || res.status === 429 ? 'down' : 'up';
  return new UpstreamError(await falErrorOf(res), retryable, health, retryAfterMs(res));
}

async function falErrorOf(res: Response): Promise<ApiError> {
  let body: { detail?: unknown; error_type?: unknown } = {};
  try {
    body = ((await readJsonBody(res)) ?? {}) as typeof body;
  } catch {
    /* not JSON: the status decides */
  }
  const type = String(res.headers.get('x-fal-error-type') ?? (typeof body === 'object' ? body.error_type : '') ?? '');
  if (res.status === 422) {
    const first = Array.isArray(body?.detail) ? (body.detail[0] as { loc?: unknown } | undefined) : undefined;
    const loc = Array.isArray(first?.loc) ? first.loc.filter((p) => p !== 'body') : [];
    const field = loc.length && loc.every((p) => typeof p === 'string' && FIELD.test(p)) ? loc.join('.') : null;
    return badRequest(field, field ? `The provider rejected the value of '${field}'` : 'The provider rejected the request');
  }
  if (res.status === 504 || type === 'request_timeout' || type === 'startup_timeout') return upstreamTimeout();
  if (res.status === 429) {
    const after = retryAfterMs(res);
    return new ApiError(503, 'provider_unavailable', 'The provider is at capacity; retry shortly', null, { 'retry-after': String(after ? Math.max(1, Math.ceil(after / 1000)) : 5) });
  }
  return upstreamError(`The provider failed (HTTP ${res.status})`);
}
