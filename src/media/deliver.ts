// Delivery of outputs: re-hosted in R2 behind signed URLs when MEDIA is bound; otherwise fal URLs pass through
// (only from FAL_MEDIA_HOSTS, checked by the adapter) and worker files are served through a signed gateway URL
// (never the worker's own URL) or inline as base64. Re-hosted keys start with the account's tag (`i_<tag>_…`,
// `v_<tag>_…`) so that erasing an account finds its objects by prefix; each object's deletion is queued when it is
// written (MEDIA_RETENTION_HOURS).
import type { Config } from '../config';
import { b64url, fromB64url, hmac, toHex } from '../http/crypto';
import { BodyError, readCapped } from '../http/body';
import { upstreamError } from '../http/errors';
import { Bytes } from '../http/json-stream';
import { upstreamBodyError } from '../providers/upstream';
import type { Asset, Provider } from '../providers/types';
import { signMediaPath } from './sign';
import { SERVABLE, sniff, SNIFF_BYTES } from './sniff';
import { expiresOf, putMedia } from './store';
import type { JobMessage } from '../jobs/queue';
import { retentionMs, scheduleExpiry } from '../jobs/retention';

export interface DeliverContext {
  cfg: Config;
  bucket: R2Bucket | undefined;
  provider: Provider;
  account: string;
  /** Scheme + host the customer called, for absolute URLs. */
  origin: string;
  /** The JOBS queue, for the deletion of what is re-hosted (none: the read-time check alone enforces retention). */
  jobs?: Queue<JobMessage>;
  /** The request's execution context: the deletion is queued after the answer, adding no latency. */
  exec?: ExecutionContext;
}

/** Largest total of image bytes one b64_json response carries (it is held until the response is sent). */
export const MAX_B64_TOTAL = 12 * 1024 * 1024;

const tags = new WeakMap<Config, Map<string, Promise<string>>>();

/**
 * The account's tag in its media keys: 16 hex characters of HMAC(SIGNING_SECRET, account) — stable, so an erase
 * lists the account's objects by prefix, and not the account name (a key reveals nothing of whose it is).
 */
export function accountTag(cfg: Config, account: string): Promise<string> {
  let byAccount = tags.get(cfg);
  if (!byAccount) tags.set(cfg, (byAccount = new Map()));
  let tag = byAccount.get(account);
  if (!tag) {
    if (byAccount.size >= 1000) byAccount.clear();
    tag = hmac(cfg.SIGNING_SECRET, 'media-account-v1', account).then((mac) => toHex(mac).slice(0, 16));
    byAccount.set(account, tag);
  }
  return tag;
}

/** The R2 key prefixes of an account's re-hosted images and videos. */
export async function mediaPrefixes(cfg: Config, account: string): Promise<string[]> {
  const tag = await accountTag(cfg, account);
  return [`i_${tag}_`, `v_${tag}_`];
}

/** A fresh random R2 key for an image of the account tagged `tag`. */
export const imageKey = (ext: string, tag: string) => `i_${tag}_${crypto.randomUUID().replace(/-/g, '')}.${ext}`;

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

type KeyFor = string | ((ext: string, tag: string) => string);

/**
 * Re-hosts an asset in R2 (ctx.bucket must be bound) and queues its deletion at `expires` (default: now + the
 * retention). `key` is a fixed key (a video job's, which may already exist: then it is kept, with its own end) or
 * a function of the sniffed extension and the account's tag (a fresh image).
 */
export async function rehost(ctx: DeliverContext, asset: Asset, kind: 'image' | 'video', key: KeyFor, expires?: number): Promise<{ key: string; expires: number }> {
  const bucket = ctx.bucket!;
  const now = Date.now();
  const retention = retentionMs(ctx.cfg);
  if (typeof key === 'string') {
    const head = await bucket.head(key);
    const until = head ? expiresOf(head, retention) : 0;
    if (until > now) return { key, expires: until };
  }
  const tag = typeof key === 'string' ? '' : await accountTag(ctx.cfg, ctx.account);
  const keyFor = typeof key === 'string' ? () => key : (ext: string) => key(ext, tag);
  const stored = await putMedia(bucket, await ctx.provider.open(asset), kind, keyFor, ctx.account, expires ?? now + retention);
  await scheduleExpiry(ctx.jobs, ctx.exec, stored.key, stored.expires);
  return { key: stored.key, expires: stored.expires };
}

/**
 * Returns the customer-facing URL of an asset, re-hosting it when R2 is bound (the URL never outlives the copy's
 * retention). `key` is a fixed key (a video job's, which may already exist) or a function of the sniffed
 * extension and the account's tag (a fresh image).
 */
export async function deliverUrl(ctx: DeliverContext, asset: Asset, kind: 'image' | 'video', key: KeyFor): Promise<string> {
  if (ctx.bucket) {
    const stored = await rehost(ctx, asset, kind, key);
    return ctx.origin + (await signMediaPath(ctx.cfg, stored.key, Date.now(), stored.expires));
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
