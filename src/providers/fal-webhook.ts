// fal's webhook signature (docs/reference/fal.md): ED25519 over
// `request_id \n user_id \n timestamp \n hex(sha256(raw body))`, from the headers X-Fal-Webhook-Request-Id,
// -User-Id, -Timestamp (unix s) and -Signature (hex); public keys from fal's JWKS (`FAL_JWKS_URL`), every key tried;
// timestamps more than 300 s off are refused. Keys are cached per isolate for a day and re-fetched at most every
// 5 minutes when nothing verifies (a rotation).
import type { Config } from '../config';

const TOLERANCE_SEC = 300;
const JWKS_TTL_MS = 24 * 3600 * 1000;
const JWKS_REFRESH_MS = 5 * 60 * 1000;
const JWKS_TIMEOUT_MS = 5_000;

const cache = new Map<string, { keys: Promise<CryptoKey[]>; at: number }>();
const enc = new TextEncoder();

async function fetchKeys(url: string): Promise<CryptoKey[]> {
  const res = await fetch(url, { signal: AbortSignal.timeout(JWKS_TIMEOUT_MS) });
  if (!res.ok) throw new Error('jwks unavailable');
  const { keys } = (await res.json()) as { keys?: { kty?: string; crv?: string; x?: string }[] };
  const usable = (keys ?? []).filter((k) => k.kty === 'OKP' && k.crv === 'Ed25519' && typeof k.x === 'string');
  const imported = await Promise.all(
    usable.map((k) => crypto.subtle.importKey('jwk', { kty: 'OKP', crv: 'Ed25519', x: k.x }, { name: 'Ed25519' }, false, ['verify']).catch(() => null)),
  );
  return imported.filter((k): k is CryptoKey => k !== null);
}

function keys(url: string, refresh: boolean): Promise<CryptoKey[]> {
  const hit = cache.get(url);
  const now = Date.now();
  if (hit && now - hit.at < (refresh ? JWKS_REFRESH_MS : JWKS_TTL_MS)) return hit.keys;
  const entry = { keys: fetchKeys(url), at: now };
  // A failed fetch is not cached: the next webhook tries again.
  entry.keys.catch(() => cache.get(url) === entry && cache.delete(url));
  cache.set(url, entry);
  return entry.keys;
}

const fromHex = (hex: string) => (/^(?:[0-9a-f]{2})+$/i.test(hex) ? Uint8Array.from(hex.match(/../g)!, (h) => parseInt(h, 16)) : null);

/** The verified request id, or null (missing headers, stale timestamp, no key verifies, JWKS unreachable). */
export async function verifyFalWebhook(cfg: Config, headers: Headers, body: Uint8Array): Promise<string | null> {
  const requestId = headers.get('x-fal-webhook-request-id');
  const userId = headers.get('x-fal-webhook-user-id');
  const timestamp = headers.get('x-fal-webhook-timestamp');
  const signature = fromHex(headers.get('x-fal-webhook-signature') ?? '');
  if (!requestId || !userId || !timestamp || !/^\d{1,12}$/.test(timestamp) || !signature || signature.length !== 64) return null;
  if (Math.abs(Date.now() / 1000 - Number(timestamp)) > TOLERANCE_SEC) return null;
  const digest = [...new Uint8Array(await crypto.subtle.digest('SHA-256', body))].map((b) => b.toString(16).padStart(2, '0')).join('');
  const message = enc.encode(`${requestId}\n${userId}\n${timestamp}\n${digest}`);
  for (const refresh of [false, true]) {
    let candidates: CryptoKey[];
    try {
      candidates = await keys(cfg.FAL_JWKS_URL, refresh);
    } catch {
      return null;
    }
    for (const key of candidates) {
      if (await crypto.subtle.verify({ name: 'Ed25519' }, key, signature, message)) return requestId;
    }
  }
  return null;
}
