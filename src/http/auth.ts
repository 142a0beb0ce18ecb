import type { Config } from '../config';
import type { Ledger } from '../ledger';
import type { KeyRecord } from '../ledger/types';
import { ApiError } from './errors';
import { secretEquals, sha256Hex } from './crypto';

/** The free shared test key: account `test`, worker only, $0, a tight rate limit. */
export const TEST_KEY: KeyRecord = { keyId: 'test', account: 'test', tier: 'test', rpm: 10 };

/** How long a key record may be served from this isolate's memory; a revocation takes effect within it. */
export const KEY_CACHE_MS = 5_000;

const cache = new Map<string, { rec: KeyRecord | null; until: number }>();

export function bearer(header: string | undefined): string | null {
  const m = header?.match(/^Bearer\s+(\S+)\s*$/i);
  return m ? m[1]! : null;
}

const invalidKey = (message: string) => new ApiError(401, 'invalid_api_key', message);

/** Resolves `Authorization: Bearer <key>` to a key record. Keys are looked up only by their SHA-256 hash. */
export async function authenticate(header: string | undefined, cfg: Config, ledger: Ledger, now = Date.now()): Promise<KeyRecord> {
  const key = bearer(header);
  if (!key) throw invalidKey('Missing API key: send Authorization: Bearer <key>');
  if (cfg.TEST_API_KEY && (await secretEquals(key, cfg.TEST_API_KEY))) return TEST_KEY;
  const hash = await sha256Hex(key);
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
