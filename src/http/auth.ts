import type { Config } from '../config';
import type { Ledger } from '../ledger';
import type { KeyRecord } from '../ledger/types';
import { ApiError } from './errors';
import { secretEquals, sha256, timingSafeEqual, toHex } from './crypto';

/** The free shared test key: account `test`, worker only, $0, a tight rate limit (`TEST_KEY_RPM`, default 10). */
export const TEST_KEY: KeyRecord = { keyId: 'test', account: 'test', tier: 'test', rpm: 10 };

/** How long a key record may be served from this isolate's memory; a revocation takes effect within it. */
export const KEY_CACHE_MS = 5_000;

const cache = new Map<string, { rec: KeyRecord | null; until: number }>();

export function bearer(header: string | undefined): string | null {
  const m = header?.match(/^Bearer\s+(\S+)\s*$/i);
  return m ? m[1]! : null;
}

const invalidKey = (message: string) => new ApiError(401, 'invalid_api_key', message);

const testKeyDigests = new WeakMap<Config, Promise<Uint8Array | null>>();

/** SHA-256 of the configured test key, once per config. */
function testKeyDigest(cfg: Config): Promise<Uint8Array | null> {
  let d = testKeyDigests.get(cfg);
  if (!d) {
    d = cfg.TEST_API_KEY ? sha256(cfg.TEST_API_KEY) : Promise.resolve(null);
    testKeyDigests.set(cfg, d);
  }
  return d;
}

/**
 * Resolves `Authorization: Bearer <key>` to a key record. The key is hashed once: the digest is compared with the
 * test key's in constant time, and otherwise looked up (keys are stored only as their SHA-256 hashes).
 */
export async function authenticate(header: string | undefined, cfg: Config, ledger: Ledger, now = Date.now()): Promise<KeyRecord> {
  const key = bearer(header);
  if (!key) throw invalidKey('Missing API key: send Authorization: Bearer <key>');
  const [digest, testDigest] = await Promise.all([sha256(key), testKeyDigest(cfg)]);
  if (testDigest && timingSafeEqual(digest, testDigest)) return cfg.TEST_KEY_RPM === TEST_KEY.rpm ? TEST_KEY : { ...TEST_KEY, rpm: cfg.TEST_KEY_RPM };
  const hash = toHex(digest);
  const hit = cache.get(hash);
  let rec: KeyRecord | null;
  if (hit && hit.until > now) {
    rec = hit.rec;
  } else {
    rec = await ledger.findKey(hash);
    if (cache.size > 10_000) cache.clear();
    cache.set(hash, { rec, until: now + KEY_CACHE_MS });
  }
  if (!rec) throw invalidKey('Incorrect API key provided');
  if (rec.expiresAt && now >= rec.expiresAt * 1000) throw invalidKey('This API key has expired');
  return rec;
}

/** Forget cached records (used when an operator revokes a key through this isolate). */
export function forgetKeys(): void {
  cache.clear();
}

export async function requireAdmin(header: string | undefined, cfg: Config): Promise<void> {
  const token = bearer(header);
  if (!token || !(await secretEquals(token, cfg.ADMIN_TOKEN))) throw invalidKey('Invalid admin token');
}
