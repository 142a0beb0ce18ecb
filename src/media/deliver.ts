// Delivery of outputs: re-hosted in R2 behind signed URLs when MEDIA is bound; otherwise fal URLs pass through
// (only from FAL_MEDIA_HOSTS, checked by the adapter) and worker files are served through a signed gateway URL
// (never the worker's own URL) or inline as base64.
import type { Config } from '../config';
import { b64url, fromB64url } from '../http/crypto';
import { BodyError, readCapped } from '../http/body';
import { upstreamError } from '../http/errors';
import { Bytes } from '../http/json-stream';
import { upstreamBodyError } from '../providers/upstream';
import type { Asset, Provider } from '../providers/types';
import { signMediaPath } from './sign';
import { SERVABLE, sniff, SNIFF_BYTES } from './sniff';
import { putMedia } from './store';

export interface DeliverContext {
  cfg: Config;
  bucket: R2Bucket | undefined;
  provider: Provider;
  account: string;
  /** Scheme + host the customer called, for absolute URLs. */
  origin: string;
}

/** Largest total of image bytes one b64_json response carries (it is held until the response is sent). */
export const MAX_B64_TOTAL = 12 * 1024 * 1024;

/** A fresh random R2 key for an image. */
export const imageKey = (ext: string) => `i_${crypto.randomUUID().replace(/-/g, '')}.${ext}`;

/** Worker files are addressed by a signed reference, decoded only by the media route. */
export function workerKey(asset: Extract<Asset, { kind: 'worker' }>): string {
  return `w_${b64url(new TextEncoder().encode(JSON.stringify([asset.filename, asset.subfolder, asset.type, asset.contentType])))}`;
}

export function parseWorkerKey(key: string): Extract<Asset, { kind: 'worker' }> | null {
  const bytes = key.startsWith('w_') ? fromB64url(key.slice(2)) : null;
  if (!bytes) return null;
  try {
    const [filename, subfolder, type, contentType] = JSON.parse(new TextDecoder().decode(bytes)) as unknown[];
    if (![filename, subfolder, type, contentType].every((v) => typeof v === 'string')) return null;
    return { kind: 'worker', filename: filename as string, subfolder: subfolder as string, type: type as string, contentType: contentType as string };
  } catch {
    return null;
  }
}

/**
 * Returns the customer-facing URL of an asset, re-hosting it when R2 is bound. `key` is a fixed key (a video
 * job's, which may already exist) or a function of the sniffed extension (a fresh image).
 */
export async function deliverUrl(ctx: DeliverContext, asset: Asset, kind: 'image' | 'video', key: string | ((ext: string) => string)): Promise<string> {
  if (ctx.bucket) {
    let stored: string;
    if (typeof key === 'string' && (await ctx.bucket.head(key))) stored = key;
    else stored = (await putMedia(ctx.bucket, await ctx.provider.open(asset), kind, typeof key === 'string' ? () => key : key, ctx.account)).key;
    return ctx.origin + (await signMediaPath(ctx.cfg, stored));
  }
  if (asset.kind === 'url') return asset.url;
  if (!SERVABLE.has(asset.contentType)) throw upstreamError('The worker produced a file that is not an image or video');
  return ctx.origin + (await signMediaPath(ctx.cfg, workerKey(asset)));
}

/** Reads an image output under `budget` bytes and returns it for base64 embedding (typed by its bytes). */
export async function deliverBase64(ctx: DeliverContext, asset: Asset, budget: number): Promise<Bytes> {
  const res = await ctx.provider.open(asset);
  if (!res.ok) {
    await res.body?.cancel().catch(() => {});
    throw upstreamError(`The output could not be fetched (HTTP ${res.status})`);
  }
  let bytes: Uint8Array;
  try {
    bytes = await readCapped(res, { max: budget });
  } catch (err) {
    if (err instanceof BodyError && err.reason === 'too_large') {
      throw upstreamError('The images are too large to return as b64_json; request response_format=url');
    }
    throw upstreamBodyError(err);
  }
  const found = sniff(bytes.subarray(0, SNIFF_BYTES));
  if (found?.kind !== 'image') throw upstreamError('The provider returned a file that is not an image');
  return new Bytes(bytes);
}
