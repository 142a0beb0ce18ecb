// Synchronous image generation: plan (the request onto the route's upstream parameters, or a 400) → admit (rate
// limit + charge n × price, one ledger round trip) → provider → deliver → done. Only what was not delivered costs
// another round trip: a failure refunds everything, a partial result refunds the missing images. With an
// Idempotency-Key the response is stored for replays (a second round trip).
// Upstream failures are retried and may fall back to the model's FALLBACKS endpoints (src/providers/retry.ts): the
// charge covers all of it — n × the dearest price that may run — and what actually ran is what is kept (a cheaper
// endpoint, fewer images: refunded). A request that needed more than one attempt, or ran on a fallback, gets a note
// in its usage record, written in the background.
import { resolveRoute, routeChain, type Route } from '../catalog/resolve';
import { ApiError, toApiError, upstreamError } from '../http/errors';
import { randomId } from '../http/crypto';
import { Bytes, embeddedLength, jsonText } from '../http/json-stream';
import { persist } from '../ledger';
import { deliverBase64, deliverUrl, imageKey, MAX_B64_TOTAL, type DeliverContext } from '../media/deliver';
import { signMediaPath } from '../media/sign';
import { providerFor } from '../providers';
import type { Asset, ImageResult, ImageRunOptions, Provider } from '../providers/types';
import { MIN_ATTEMPT_MS, mayFallBack, remaining, withAttempts, type Budget } from '../providers/retry';
import { sniff, SNIFF_BYTES } from '../media/sniff';
import { planImages, type ImageAsk, type Plan } from './image-plan';
import { admit, IDEMPOTENCY_TTL_SEC, type IdempotencyInput } from './admit';
import { NOTE_SUFFIX, noteMemo, usageMemo } from './usage';
import type { Ctx } from './context';
import { forgetIdempotency, markerOf, refund, remember } from './money';
import { noteOutcome, traceRoute, upstream } from './trace';

export interface ImageJob extends ImageAsk {
  /** The model name the caller used (undefined → the default). */
  model?: string;
  responseFormat: 'url' | 'b64_json';
}

export interface Outcome {
  body: unknown;
  costMicro: number;
  replayed: boolean;
  /** upstream attempts made (x-phi-attempts), across endpoints */
  attempts: number;
  /** the endpoint (fal id, or worker workflow) that served (x-phi-route); none on a replay */
  route?: string;
}

/** A response bigger than this is not stored for Idempotency-Key replays; a retry gets 409 (never a second charge). */
const MAX_REPLAY_BYTES = 900 * 1024;

/** What an Idempotency-Key replays: the body, or a marker when it is too large to keep. */
function replayRecord(body: unknown): string {
  if (embeddedLength(body) > MAX_REPLAY_BYTES) return JSON.stringify({ omitted: true });
  const stored = jsonText({ body });
  return stored.length > MAX_REPLAY_BYTES ? JSON.stringify({ omitted: true }) : stored;
}

const MEDIA_URL = /\/v1\/media\/([^/?#]+)\?exp=\d+&sig=[\w-]+$/;

/**
 * A replayed response with its media URLs signed afresh (the first ones may have expired): same objects, new
 * expiry. Only the gateway's own /v1/media URLs change; anything else is replayed as it was.
 */
async function resign(ctx: Ctx, body: unknown): Promise<unknown> {
  const b = body as { data?: { url?: unknown }[] };
  if (!Array.isArray(b?.data)) return body;
  const data = await Promise.all(
    b.data.map(async (item) => {
      const key = typeof item?.url === 'string' ? item.url.match(MEDIA_URL)?.[1] : undefined;
      return key ? { ...item, url: ctx.origin + (await signMediaPath(ctx.cfg, decodeURIComponent(key))) } : item;
    }),
  );
  return { ...b, data };
}

export async function runImages(ctx: Ctx, job: ImageJob, idem?: IdempotencyInput): Promise<Outcome> {
  const { cfg, key } = ctx;
  const started = Date.now();
  const edit = job.images.length > 0;
  const resolved = resolveRoute({ model: job.model ?? undefined, kind: 'image', hasImage: edit }, key.tier, cfg, cfg.PRICE_MARGIN_BPS);
  // Before anything is held: what this route cannot serve is a 400 that costs nothing.
  const plan = planImages(resolved, job, cfg);
  const { route, req } = plan;
  const provider = providerFor(route.provider, cfg);
  const claim = `img_${randomId(12)}`;
  // The charge covers whatever may run: the dearest of the route and its fallbacks (the difference is refunded).
  const chain = routeChain(route, edit, cfg.fallbacks, cfg.PRICE_MARGIN_BPS);
  const planned = Math.max(...chain.map((r) => r.unitMicro)) * job.n;
  // Every admitted request leaves a usage record (the free tier's at $0); the charge itself only when priced.
  const memo = usageMemo({ t: edit ? 'image_edit' : 'image', r: ctx.requestId, k: key.keyId, m: route.canonical, n: job.n, unit: 'image', f: job.responseFormat });
  const charge = { id: claim, amount: planned, memo };
  traceRoute(ctx, route.canonical, route.provider);
  const pendingTtlSec = cfg.UPSTREAM_TIMEOUT_SECONDS + 60;
  const admittedAt = Date.now();
  const marker = idem && markerOf(idem.key, admittedAt, pendingTtlSec);
  const replay = await admit(ctx, { charge, idem, pendingTtlSec, now: admittedAt });
  if (replay !== null) {
    const stored = JSON.parse(replay) as { body?: unknown };
    if (stored.body === undefined) {
      throw new ApiError(409, 'idempotency_conflict', 'This request already completed and was charged, but its response is too large to replay; use response_format=url for replayable results', 'Idempotency-Key', { 'x-should-retry': 'false' });
    }
    return { body: await resign(ctx, stored.body), costMicro: 0, replayed: true, attempts: 0 };
  }
  let data: ({ url: string } | { b64_json: Bytes })[];
  let reported: { width: number; height: number } | undefined;
  const budget: Budget = { deadline: started + Math.min(cfg.UPSTREAM_DEADLINE_MS, cfg.UPSTREAM_TIMEOUT_SECONDS * 1000), attempts: 0, maxAttempts: cfg.UPSTREAM_MAX_ATTEMPTS };
  let served = route;
  try {
    const ran = await upstream(ctx, () => generate(provider, chain, req, { shortRetention: Boolean(ctx.env.MEDIA), budget, exec: ctx.exec }));
    served = ran.route;
    const { result } = ran;
    reported = result.size;
    // The format asked for is the format delivered: an output of another type is the provider's failure.
    for (const asset of result.assets) expectFormat(asset.contentType, job.format);
    const dctx: DeliverContext = { cfg, bucket: ctx.env.MEDIA, provider, account: key.account, origin: ctx.origin, jobs: ctx.env.JOBS, exec: ctx.exec };
    const revised = result.revisedPrompt ? { revised_prompt: result.revisedPrompt } : {};
    if (job.responseFormat === 'b64_json') {
      // One shared byte budget: the images are held until the response is sent.
      data = [];
      let budget = MAX_B64_TOTAL;
      for (const asset of result.assets) {
        const b64 = await deliverBase64(dctx, asset, budget);
        budget -= b64.size;
        expectFormat(sniffed(b64), job.format);
        data.push({ b64_json: b64, ...revised });
      }
    } else {
      data = await Promise.all(
        result.assets.map(async (asset) => {
          const url = await deliverUrl(dctx, asset, 'image', imageKey);
          expectFormat(rehostedType(url, asset), job.format);
          return { url, ...revised };
        }),
      );
    }
  } catch (err) {
    // Nothing was delivered: the charge is refunded in full and the Idempotency-Key freed for a retry.
    noteOutcome(ctx, claim, toApiError(err).code);
    note(ctx, claim, budget.attempts, served, route);
    if (planned > 0) await refund(ctx, claim, 0);
    await forgetIdempotency(ctx, marker);
    throw withAttempts(err, budget.attempts);
  }
  noteOutcome(ctx, claim, null);
  note(ctx, claim, budget.attempts, served, route);
  const cost = served.unitMicro * data.length;
  if (planned > 0 && cost < planned) await refund(ctx, claim, cost); // a partial result pays for what came back
  // What OpenAI's response carries, where it is known: FLUX renders opaque images; the size as the provider reports
  // it, else as planned; the quality level the steps were chosen for (none where the model has no such control).
  const size = reported ?? plan.size;
  const body = {
    created: Math.floor(Date.now() / 1000),
    data,
    background: 'opaque',
    output_format: job.format,
    ...(size && { size: `${size.width}x${size.height}` }),
    ...(plan.quality && { quality: plan.quality }),
  };
  if (idem) {
    // Delivered and charged either way; if the response cannot be stored now, it is queued: a retry with this key
    // gets 409 (x-should-retry: true) until it lands, then the replay — never a second run or charge.
    const stored = { ...idem, response: replayRecord(body), ttlSec: IDEMPOTENCY_TTL_SEC };
    await remember(ctx, { account: key.account, idem: stored });
  }
  return { body, costMicro: cost, replayed: false, attempts: budget.attempts, route: served.endpoint };
}

/**
 * Runs the request on its chain of endpoints: the next one is tried only when this one failed retryably to the end
 * (after its retries) or its breaker is open — never after a 4xx about the request, a lost answer or a timeout.
 */
async function generate(provider: Provider, chain: Route[], req: Plan['req'], opts: ImageRunOptions): Promise<{ result: ImageResult; route: Route }> {
  for (let i = 0; ; i++) {
    const route = chain[i]!;
    try {
      return { result: await provider.generateImages(route, req, opts), route };
    } catch (err) {
      if (i + 1 < chain.length && mayFallBack(err) && remaining(opts.budget) >= MIN_ATTEMPT_MS) continue;
      throw err;
    }
  }
}

/** The attempts (and the endpoint that served, when a fallback did) as a note on the usage record; background. */
function note(ctx: Ctx, claim: string, attempts: number, served: Route, primary: Route): void {
  if (attempts <= 1 && served === primary) return;
  const memo = noteMemo({ t: 'note', r: ctx.requestId, a: attempts, ...(served !== primary && { e: served.endpoint }) });
  const write = persist(() => ctx.ledger.settle({ account: ctx.key.account, claim: `${claim}${NOTE_SUFFIX}`, amount: 0, memo, now: Date.now(), record: true }), ctx.cfg.STORE_TIMEOUT_MS).catch(() => {});
  if (ctx.exec) ctx.exec.waitUntil(write);
}

const MIME: Record<ImageAsk['format'], string> = { png: 'image/png', jpeg: 'image/jpeg' };

function expectFormat(type: string | undefined, format: ImageAsk['format']): void {
  if (type !== undefined && type !== MIME[format]) throw upstreamError(`The provider returned ${type} where ${format} was asked for`);
}

/** The type of b64_json bytes, by their content. */
const sniffed = (b: Bytes): string | undefined => (b.bytes instanceof Uint8Array ? sniff(b.bytes.subarray(0, SNIFF_BYTES))?.type : undefined);

const EXT_TYPES: Record<string, string> = { png: 'image/png', jpg: 'image/jpeg', webp: 'image/webp', gif: 'image/gif' };

/** A re-hosted copy is named by its sniffed extension (/v1/media/i_….jpg); a passed-through URL by the asset's type. */
function rehostedType(url: string, asset: Asset): string {
  const ext = url.match(/\/v1\/media\/i_[\w-]+\.([a-z0-9]+)\?/)?.[1];
  return ext ? (EXT_TYPES[ext] ?? `image/${ext}`) : asset.contentType;
}
