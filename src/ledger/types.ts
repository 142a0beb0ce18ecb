// The ledger: keys, credits, holds, claims, usage and rate-limit counters. Integer micro-USD throughout.
// Two stores implement it (Upstash Redis, SQLite Durable Object); one contract test suite runs against both.

import type { Tier } from '../catalog/resolve';

export interface KeyRecord {
  keyId: string;
  account: string;
  tier: Tier;
  /** Requests per minute allowed for this key. */
  rpm: number;
}

export interface UsageRecord {
  claim: string;
  amount_micro: number;
  memo: string;
  at: number;
}

export interface AccountView {
  account: string;
  balance_micro: number;
  held_micro: number;
  spent_micro: number;
  charges: number;
  usage: UsageRecord[];
}

export interface Hold {
  id: string;
  amount: number;
  ttlSec: number;
}

export interface Idempotency {
  key: string;
  /** Hash of the request body: the same key with another body is refused. */
  fingerprint: string;
  /** How long an in-flight marker blocks retries if the request never finishes. */
  pendingTtlSec: number;
}

/** Everything checked before an upstream call, in one atomic store operation (one round trip). */
export interface AdmitRequest {
  account: string;
  keyId: string;
  rpm: number;
  now: number;
  hold?: Hold;
  idem?: Idempotency;
}

export type AdmitResult =
  | { ok: true }
  | { ok: false; reason: 'rate_limited'; retryAfterSec: number }
  | { ok: false; reason: 'insufficient'; availableMicro: number }
  | { ok: false; reason: 'replay'; response: string }
  | { ok: false; reason: 'in_flight' }
  | { ok: false; reason: 'idem_mismatch' };

/** Charge once per claim id; converts the hold (if any) into the actual charge. */
export interface SettleRequest {
  account: string;
  claim: string;
  amount: number;
  holdId?: string;
  memo: string;
  now: number;
  /** Store the response for Idempotency-Key replays. */
  idem?: { key: string; response: string; ttlSec: number };
}

export type SettleResult =
  | { ok: true; charged: boolean; amount: number; balance: number }
  | { ok: false; reason: 'insufficient'; availableMicro: number };

export interface ReleaseRequest {
  account: string;
  holdId?: string;
  idemKey?: string;
}

export interface Ledger {
  findKey(hash: string): Promise<KeyRecord | null>;
  /** Stores a new key (by hash); creates the account with `credits` if it does not exist yet. */
  issueKey(hash: string, rec: KeyRecord, credits: number): Promise<void>;
  /** Revokes by key id; false when no such key. */
  revokeKey(keyId: string): Promise<boolean>;
  /** Adds credits and returns the new balance; null when the account does not exist and `create` is false. */
  credit(account: string, amount: number, create: boolean): Promise<number | null>;
  account(account: string, now: number): Promise<AccountView | null>;
  admit(req: AdmitRequest): Promise<AdmitResult>;
  settle(req: SettleRequest): Promise<SettleResult>;
  release(req: ReleaseRequest): Promise<void>;
}

/** How long a claim id is remembered (a job can be re-polled for at least this long without a second charge). */
export const CLAIM_TTL_SEC = 30 * 24 * 3600;
/** Recent usage records kept per account. */
export const USAGE_KEEP = 100;
