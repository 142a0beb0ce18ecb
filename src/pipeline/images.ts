// Synchronous image generation: admit (hold n × price) → provider → deliver → settle what was delivered.
import type { Config } from '../config';
import type { Env } from '../env';
import { resolveRoute } from '../catalog/resolve';
import { ApiError } from '../http/errors';
import { randomId } from '../http/crypto';
import type { Ledger } from '../ledger';
import type { KeyRecord } from '../ledger/types';
import { Bytes, embeddedLength, jsonText } from '../http/json-stream';
import { deliverBase64, deliverUrl, imageKey, MAX_B64_TOTAL, type DeliverContext } from '../media/deliver';
import { providerFor } from '../providers';
import type { ImageRequest } from '../providers/types';
import { admit, IDEMPOTENCY_TTL_SEC, type IdempotencyInput } from './admit';

export interface ImageJob extends ImageRequest {
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

export async function runImages(
  env: Env,
  cfg: Config,
  ledger: Ledger,
  key: KeyRecord,
  origin: string,
  job: ImageJob,
  idem?: IdempotencyInput,
): Promise<Outcome> {
  const route = resolveRoute({ model: job.model ?? undefined, kind: 'image' }, key.tier, cfg, cfg.PRICE_MARGIN_BPS);
  const provider = providerFor(route.provider, cfg);
  const id = `img_${randomId(12)}`;
  const hold = route.unitMicro > 0 ? { id, amount: route.unitMicro * job.n, ttlSec: cfg.UPSTREAM_TIMEOUT_SECONDS + 300 } : undefined;
  const replay = await admit(ledger, key, { hold, idem, pendingTtlSec: cfg.UPSTREAM_TIMEOUT_SECONDS + 60 });
  if (replay !== null) {
    const stored = JSON.parse(replay) as { body?: unknown };
    if (stored.body === undefined) {
      throw new ApiError(409, 'idempotency_conflict', 'This request already completed and was charged, but its response is too large to replay; use response_format=url for replayable results', 'Idempotency-Key', { 'x-should-retry': 'false' });
    }
    return { body: stored.body, costMicro: 0, replayed: true };
  }
  try {
    const result = await provider.generateImages(route, job, { shortRetention: Boolean(env.MEDIA) });
    const ctx: DeliverContext = { cfg, bucket: env.MEDIA, provider, account: key.account, origin };
    const revised = result.revisedPrompt ? { revised_prompt: result.revisedPrompt } : {};
    let data: ({ url: string } | { b64_json: Bytes })[];
    if (job.responseFormat === 'b64_json') {
      // One shared byte budget: the images are held until the response is sent.
      data = [];
      let budget = MAX_B64_TOTAL;
      for (const asset of result.assets) {
        const b64 = await deliverBase64(ctx, asset, budget);
        budget -= b64.size;
        data.push({ b64_json: b64, ...revised });
      }
    } else {
      data = await Promise.all(result.assets.map(async (asset) => ({ url: await deliverUrl(ctx, asset, 'image', imageKey), ...revised })));
    }
    const cost = route.unitMicro * data.length;
    const body = { created: Math.floor(Date.now() / 1000), data, output_format: job.format, size: `${job.width}x${job.height}` };
    // The free tier moves no money: it only needs the ledger again to record an Idempotency-Key response.
    if (cost === 0 && !idem) return { body, costMicro: 0, replayed: false };
    const settled = await ledger.settle({
      account: key.account,
      claim: id,
      amount: cost,
      holdId: hold?.id,
      memo: `${route.canonical} x${data.length}`,
      now: Date.now(),
      idem: idem && { key: idem.key, response: replayRecord(body), ttlSec: IDEMPOTENCY_TTL_SEC },
    });
    if (!settled.ok) throw new ApiError(402, 'insufficient_quota', 'The credit hold expired and the balance no longer covers these images', null, { 'x-should-retry': 'false' });
    return { body, costMicro: settled.amount, replayed: false };
  } catch (err) {
    // Nothing was delivered: release the hold and the idempotency marker, charge nothing.
    await ledger.release({ account: key.account, holdId: hold?.id, idemKey: idem?.key }).catch(() => {});
    throw err;
  }
}
