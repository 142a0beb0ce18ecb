// Synchronous image generation: plan (the request onto the route's upstream parameters, or a 400) → admit (rate
// limit + charge n × price, one ledger round trip) → provider → deliver → done. Only what was not delivered costs
// another round trip: a failure refunds everything, a partial result refunds the missing images. With an
// Idempotency-Key the response is stored for replays (a second round trip).
import { resolveRoute } from '../catalog/resolve';
import { ApiError, upstreamError } from '../http/errors';
import { randomId } from '../http/crypto';
import { Bytes, embeddedLength, jsonText } from '../http/json-stream';
import { persist } from '../ledger';
import { deliverBase64, deliverUrl, imageKey, MAX_B64_TOTAL, type DeliverContext } from '../media/deliver';
import { signMediaPath } from '../media/sign';
import { providerFor } from '../providers';
import type { Asset } from '../providers/types';
import { sniff, SNIFF_BYTES } from '../media/sniff';
import { planImages, type ImageAsk } from './image-plan';
import { admit, IDEMPOTENCY_TTL_SEC, type IdempotencyInput } from './admit';
import { usageMemo } from './usage';
import type { Ctx } from './context';
import { forgetIdempotency, refund } from './money';

export interface ImageJob extends ImageAsk {
  /** The model name the caller used (undefined → the default). */
  model?: string;
  responseFormat: 'url' | 'b64_json';
}

export interface Outcome {
  body: unknown;
  costMicro: number;
  replayed: boolean;
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
  const edit = job.images.length > 0;
  const resolved = resolveRoute({ model: job.model ?? undefined, kind: 'image', hasImage: edit }, key.tier, cfg, cfg.PRICE_MARGIN_BPS);
  // Before anything is held: what this route cannot serve is a 400 that costs nothing.
  const plan = planImages(resolved, job, cfg);
  const { route, req } = plan;
  const provider = providerFor(route.provider, cfg);
  const claim = `img_${randomId(12)}`;
  const planned = route.unitMicro * job.n;
  // Every admitted request leaves a usage record (the free tier's at $0); the charge itself only when priced.
  const memo = usageMemo({ t: edit ? 'image_edit' : 'image', r: ctx.requestId, k: key.keyId, m: route.canonical, n: job.n, unit: 'image', f: job.responseFormat });
  const charge = { id: claim, amount: planned, memo };
  const replay = await admit(ctx, { charge, idem, pendingTtlSec: cfg.UPSTREAM_TIMEOUT_SECONDS + 60 });
  if (replay !== null) {
    const stored = JSON.parse(replay) as { body?: unknown };
    if (stored.body === undefined) {
      throw new ApiError(409, 'idempotency_conflict', 'This request already completed and was charged, but its response is too large to replay; use response_format=url for replayable results', 'Idempotency-Key', { 'x-should-retry': 'false' });
    }
    return { body: await resign(ctx, stored.body), costMicro: 0, replayed: true };
  }
  let data: ({ url: string } | { b64_json: Bytes })[];
  let reported: { width: number; height: number } | undefined;
  try {
    const result = await provider.generateImages(route, req, { shortRetention: Boolean(ctx.env.MEDIA) });
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
    if (planned > 0) await refund(ctx, claim, 0);
    await forgetIdempotency(ctx, idem?.key);
    throw err;
  }
  const cost = route.unitMicro * data.length;
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
    // Delivered and charged either way; if the response cannot be stored, a retry with this key waits out the
    // in-flight marker (409) instead of being charged again.
    const stored = { ...idem, response: replayRecord(body), ttlSec: IDEMPOTENCY_TTL_SEC };
    await persist(() => ctx.ledger.remember({ account: key.account, now: Date.now(), idem: stored }), cfg.STORE_TIMEOUT_MS).catch(() => {});
  }
  return { body, costMicro: cost, replayed: false };
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
