// Delivery of outputs: re-hosted in R2 behind signed URLs when MEDIA is bound; otherwise fal URLs pass through
// and worker files are served through a signed gateway URL (never the worker's own URL) or inline as base64.
import type { Config } from '../config';
import { b64url, base64, fromB64url } from '../http/crypto';
import { upstreamError } from '../http/errors';
import type { Asset, Provider } from '../providers/types';
import { signMediaPath } from './sign';
import { putMedia } from './store';

export interface DeliverContext {
  cfg: Config;
  bucket: R2Bucket | undefined;
  provider: Provider;
  account: string;
  /** Scheme + host the customer called, for absolute URLs. */
  origin: string;
}

const EXT: Record<string, string> = { 'image/png': 'png', 'image/jpeg': 'jpg', 'image/webp': 'webp', 'video/mp4': 'mp4', 'video/webm': 'webm' };

/** A fresh random R2 key for an image. */
export const imageKey = (contentType: string) => `i_${crypto.randomUUID().replace(/-/g, '')}.${EXT[contentType] ?? 'bin'}`;

/** Worker files are addressed by a signed reference, decoded only by the media route. */
export function workerKey(asset: Extract<Asset, { kind: 'worker' }>): string {
  return `w_${b64url(new TextEncoder().encode(JSON.stringify([asset.filename, asset.subfolder, asset.type, asset.contentType])))}`;
}

export function parseWorkerKey(key: string): Extract<Asset, { kind: 'worker' }> | null {
  const bytes = key.startsWith('w_') ? fromB64url(key.slice(2)) : null;
  if (!bytes) return null;
  try {
    const [filename, subfolder, type, contentType] = JSON.parse(new TextDecoder().decode(bytes)) as string[];
    return typeof filename === 'string' ? { kind: 'worker', filename, subfolder: subfolder ?? '', type: type ?? 'output', contentType: contentType ?? 'application/octet-stream' } : null;
  } catch {
    return null;
  }
}

/**
 * Returns the customer-facing URL of an asset, re-hosting it under `key` when R2 is bound. `reuse` marks a
 * deterministic key (a video job) whose object may already exist; fresh random keys skip that check.
 */
export async function deliverUrl(ctx: DeliverContext, asset: Asset, key: string, reuse = false): Promise<string> {
  if (ctx.bucket) {
    const exists = reuse && (await ctx.bucket.head(key));
    if (!exists) await putMedia(ctx.bucket, key, await ctx.provider.open(asset), ctx.account, asset.contentType);
    return ctx.origin + (await signMediaPath(ctx.cfg, key));
  }
  if (asset.kind === 'url') return asset.url;
  return ctx.origin + (await signMediaPath(ctx.cfg, workerKey(asset)));
}

/** Reads an asset fully and returns it base64-encoded (images only). */
export async function deliverBase64(ctx: DeliverContext, asset: Asset): Promise<string> {
  const res = await ctx.provider.open(asset);
  if (!res.ok) throw upstreamError(`The output could not be fetched (HTTP ${res.status})`);
  return base64(new Uint8Array(await res.arrayBuffer()));
}
