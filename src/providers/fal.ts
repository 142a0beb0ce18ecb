// fal.ai adapter on plain fetch (see README "Why not @fal-ai/client"): sync runner for images, queue for video.
// Every request carries `Authorization: Key …` and `X-Fal-Store-IO: 0`. Status/result URLs are always rebuilt
// from the configured queue host + endpoint id + request id, never taken from a response or a job id.
import type { Config } from '../config';
import type { Route } from '../catalog/resolve';
import { base64 } from '../http/crypto';
import { ApiError, badRequest, providerUnavailable, upstreamError, upstreamTimeout } from '../http/errors';
import type { Asset, ImageRequest, ImageResult, InputFile, Provider, RunOptions, VideoRequest, VideoState } from './types';
import { readJsonBody, upstreamFetch } from './upstream';

/** CDN lifetime asked of fal when outputs are re-hosted privately. */
export const FAL_SHORT_RETENTION_SECONDS = 3600;

/** `owner/alias` of an endpoint id (`ns/owner/alias` in the workflows/ and comfy/ namespaces). */
export function endpointBase(id: string): string {
  const parts = id.split('/');
  return parts.slice(0, parts[0] === 'workflows' || parts[0] === 'comfy' ? 3 : 2).join('/');
}

const encPath = (id: string) => id.split('/').map(encodeURIComponent).join('/');

export class FalProvider implements Provider {
  constructor(private readonly cfg: Config, private readonly timeoutMs: number) {}

  private headers(opts?: RunOptions): HeadersInit {
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
    const res = await upstreamFetch(url, init, this.timeoutMs);
    if (!res.ok) throw await falError(res);
    return readJsonBody(res);
  }

  async generateImages(route: Route, req: ImageRequest, opts: RunOptions): Promise<ImageResult> {
    const input = {
      prompt: req.prompt,
      image_size: req.preset ?? { width: req.width, height: req.height },
      num_images: req.n,
      output_format: req.format,
      enable_safety_checker: true,
      ...(req.seed !== undefined && { seed: req.seed }),
    };
    const out = (await this.call(`${this.cfg.falRunBase}/${encPath(route.endpoint)}`, {
      method: 'POST',
      headers: this.headers(opts),
      body: JSON.stringify(input),
    })) as { images?: { url?: unknown; content_type?: unknown }[]; prompt?: unknown };
    const assets: Asset[] = (out.images ?? [])
      .filter((i) => typeof i?.url === 'string' && /^https?:\/\//.test(i.url as string))
      .slice(0, req.n)
      .map((i) => ({ kind: 'url', url: i.url as string, contentType: typeof i.content_type === 'string' ? i.content_type : `image/${req.format}` }));
    if (!assets.length) throw upstreamError('The provider returned no images');
    const revised = typeof out.prompt === 'string' && out.prompt !== req.prompt ? out.prompt : undefined;
    return { assets, revisedPrompt: revised };
  }

  async submitVideo(route: Route, req: VideoRequest, opts: RunOptions): Promise<string> {
    const out = (await this.call(`${this.cfg.falQueueBase}/${encPath(route.endpoint)}`, {
      method: 'POST',
      headers: this.headers(opts),
      body: JSON.stringify(await videoInput(route, req)),
    })) as { request_id?: unknown };
    if (typeof out.request_id !== 'string' || !out.request_id) throw upstreamError('The provider did not return a request id');
    return out.request_id;
  }

  async videoStatus(endpoint: string, requestId: string): Promise<VideoState> {
    const base = `${this.cfg.falQueueBase}/${encPath(endpointBase(endpoint))}/requests/${encodeURIComponent(requestId)}`;
    const status = (await this.call(`${base}/status?logs=0`, { headers: this.headers() })) as { status?: string; queue_position?: number };
    if (status.status === 'IN_QUEUE') return { status: 'queued', progress: 0 };
    if (status.status === 'IN_PROGRESS') return { status: 'in_progress', progress: 50 };
    if (status.status !== 'COMPLETED') throw upstreamError('The provider returned an unknown job status');
    // COMPLETED is final for failures too: the result call returns the job's error.
    const res = await upstreamFetch(base, { headers: this.headers() }, this.timeoutMs);
    if (!res.ok) {
      const err = await falError(res);
      return { status: 'failed', code: err.code === 'upstream_timeout' ? 'upstream_timeout' : 'generation_failed', message: err.message };
    }
    const out = (await readJsonBody(res)) as { video?: { url?: unknown; content_type?: unknown } };
    const url = out.video?.url;
    if (typeof url !== 'string' || !/^https?:\/\//.test(url)) return { status: 'failed', code: 'generation_failed', message: 'The provider returned no video' };
    return { status: 'completed', asset: { kind: 'url', url, contentType: typeof out.video?.content_type === 'string' ? out.video.content_type : 'video/mp4' } };
  }

  open(asset: Asset, range?: string | null): Promise<Response> {
    if (asset.kind !== 'url') throw upstreamError('Not a provider URL');
    return upstreamFetch(asset.url, { headers: range ? { range } : {} }, this.timeoutMs);
  }
}

async function videoInput(route: Route, req: VideoRequest): Promise<Record<string, unknown>> {
  const seed = req.seed !== undefined ? { seed: req.seed } : {};
  const resolution = Math.min(req.width, req.height) >= 720 ? '720p' : '480p';
  if (route.canonical === 'avatar') {
    return {
      prompt: req.prompt,
      image_url: await asUrl(req.image!),
      audio_url: await asUrl(req.audio!),
      num_frames: req.frames,
      resolution,
      ...seed,
    };
  }
  if (req.image) {
    const ratio = req.width === req.height ? '1:1' : req.width > req.height ? '16:9' : '9:16';
    return {
      prompt: req.prompt,
      image_url: await asUrl(req.image),
      num_frames: req.frames,
      frames_per_second: req.fps,
      resolution,
      aspect_ratio: ratio,
      ...seed,
    };
  }
  return { prompt: req.prompt, num_frames: req.frames, enable_prompt_expansion: false, ...seed };
}

/** fal takes inputs by URL; an uploaded file is sent inline as a data: URI (never stored on a public CDN by us). */
async function asUrl(input: InputFile): Promise<string> {
  if ('url' in input) return input.url;
  const data = base64(new Uint8Array(await input.file.arrayBuffer()));
  return `data:${input.file.type || 'application/octet-stream'};base64,${data}`;
}

/** Maps fal's error responses onto the gateway's codes. */
export async function falError(res: Response): Promise<ApiError> {
  let body: { detail?: unknown; error_type?: unknown } = {};
  try {
    body = (await res.json()) as typeof body;
  } catch {
    /* not JSON */
  }
  const type = String(res.headers.get('x-fal-error-type') ?? body.error_type ?? '');
  if (res.status === 422) {
    const first = Array.isArray(body.detail) ? (body.detail[0] as { loc?: unknown[]; msg?: string } | undefined) : undefined;
    const field = first?.loc?.filter((p) => p !== 'body').join('.') || null;
    const msg = first?.msg ?? (typeof body.detail === 'string' ? body.detail : 'invalid input');
    return badRequest(field, `The provider rejected the request${field ? ` (${field})` : ''}: ${msg}`);
  }
  if (res.status === 504 || type === 'request_timeout' || type === 'startup_timeout') return upstreamTimeout();
  if (res.status === 429) {
    return new ApiError(503, 'provider_unavailable', 'The provider is at capacity; retry shortly', null, { 'retry-after': '5' });
  }
  return upstreamError(`The provider failed (HTTP ${res.status}${type ? `, ${type}` : ''})`);
}
