// Per-key rate limits (GCRA state, in memory only) and key last use (written at most once a minute per key) on an
// account object; the operator's key list reads both, with the keys' budget counters.

import { gcra, type CounterView } from '../types';
import type { Db } from './state';

/** The GCRA verdict for one request of `keyId` (nothing is stored until `take`). */
export function rate(db: Db, keyId: string, now: number, rpm: number): ReturnType<typeof gcra> {
  return gcra(db.rates.get(keyId) ?? null, now, rpm);
}

/** Records an admitted request's theoretical arrival time. */
export function take(db: Db, keyId: string, tat: number): void {
  db.rates.set(keyId, tat);
}

/** Forgets the keys whose bursts have fully drained (their state would admit as if absent). */
export function forgetDrained(db: Db, now: number): void {
  for (const [key, tat] of db.rates) if (tat <= now) db.rates.delete(key);
}

/** A key's last use, written at most once a minute per key (in the admit's own transaction). */
export function used(db: Db, keyId: string, now: number): void {
  if (keyId.startsWith('system')) return;
  const id = keyId.replace(/:read$/, '');
  if (now - (db.lastUsed.get(id) ?? 0) < 60_000) return;
  db.lastUsed.set(id, now);
  db.sql.exec('INSERT OR REPLACE INTO key_used (key_id, at) VALUES (?, ?)', id, Math.floor(now / 1000));
}

/** When each of this account's keys was last used (unix seconds). */
export function usedAt(db: Db): Record<string, number> {
  return Object.fromEntries(db.sql.exec('SELECT key_id, at FROM key_used').toArray().map((r) => [String(r.key_id), Number(r.at)]));
}

/** Key last use and the named spend counters, in one call (the operator's key list). */
export function keyState(db: Db, counters: string[], now: number): { used: Record<string, number>; counters: Record<string, CounterView> } {
  const out: Record<string, CounterView> = {};
  for (const id of counters) out[id] = db.counterView(id, now);
  return { used: usedAt(db), counters: out };
}
