// Short-lived signed /v1/media URLs: HMAC-SHA256(SIGNING_SECRET, key + exp), checked in constant time.
import type { Config } from '../config';
import { b64url, hmac, tokenEquals } from '../http/crypto';
import { ApiError } from '../http/errors';

const LABEL = 'media-url-v1';

/** `until` (epoch ms): the object's retention end — the URL never outlives it (min of the TTL and the time left). */
export async function signMediaPath(cfg: Config, key: string, now = Date.now(), until?: number): Promise<string> {
  const ttlExp = Math.floor(now / 1000) + cfg.MEDIA_URL_TTL_SECONDS;
  const exp = until === undefined ? ttlExp : Math.max(1, Math.min(ttlExp, Math.floor(until / 1000)));
  const sig = b64url(await hmac(cfg.SIGNING_SECRET, LABEL, `${key}\n${exp}`));
  return `/v1/media/${key}?exp=${exp}&sig=${sig}`;
}

export async function verifyMediaPath(cfg: Config, key: string, exp: string | undefined, sig: string | undefined, now = Date.now()): Promise<void> {
  const invalid = new ApiError(403, 'invalid_signature', 'This media URL is not valid');
  if (!exp || !sig || !/^[1-9]\d{0,11}$/.test(exp)) throw invalid;
  const expected = await hmac(cfg.SIGNING_SECRET, LABEL, `${key}\n${exp}`);
  if (!tokenEquals(sig, expected)) throw invalid;
  if (Number(exp) * 1000 < now) throw new ApiError(403, 'link_expired', 'This media URL has expired; fetch a fresh one');
}
