// What every part of the Upstash store shares: the key layout (`phi:{account}:part`, one hash tag per account),
// the script reply shape, and decoding of Redis replies (HGETALL pairs, a key's budget fields).
import type { KeyBudget } from '../types';

export type Reply = [string, ...(string | number)[]];

/** An account's key: all of an account's keys share the hash tag {account}. */
export function k(account: string, part: string): string {
  return `phi:{${account}}:${part}`;
}

/** HGETALL is a flat [field, value, …] list. */
export function pairs(raw: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (Array.isArray(raw)) for (let i = 0; i + 1 < raw.length; i += 2) out[String(raw[i])] = String(raw[i + 1]);
  return out;
}

/** A key hash's budget fields (`bm` micro-USD, `bp` period), or null. */
export function budgetOf(h: Record<string, string>): KeyBudget | null {
  return h.bm !== undefined && (h.bp === 'day' || h.bp === 'month' || h.bp === 'total') ? { micro: Number(h.bm), period: h.bp } : null;
}
