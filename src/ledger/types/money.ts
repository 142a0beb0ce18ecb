// Money: the admit (rate limit, idempotency, a charge or a hold), settle, refund, release and signed adjustments.
// Integer micro-USD; every operation is atomic in its store and idempotent by its id.
import type { JobPage, JobRecord } from './jobs';
import type { BudgetCheck } from './keys';
import type { Sample } from './usage';

export interface Hold {
  id: string;
  amount: number;
  ttlSec: number;
}

export interface Charge {
  /** Claim id: the charge is made once per id, and a refund or void refers to it. */
  id: string;
  amount: number;
  memo: string;
}

export interface Idempotency {
  key: string;
  /** Hash of the request body: the same key with another body is refused. */
  fingerprint: string;
  /** How long an in-flight marker blocks retries if the request never finishes. */
  pendingTtlSec: number;
}

/**
 * Everything checked before an upstream call, in one atomic store operation (one round trip): rate limit,
 * Idempotency-Key, and either a charge (images: paid up front, refunded if not delivered) or a hold (video).
 * Sent again with the same charge/hold id it is a no-op answering `ok` (or `void` once that id was voided).
 * A poll reads a job's record back in the same call (`lookup`, a job key); a list reads a page of them (`list`).
 */
export interface AdmitRequest {
  account: string;
  keyId: string;
  rpm: number;
  now: number;
  charge?: Charge;
  hold?: Hold;
  idem?: Idempotency;
  lookup?: string;
  list?: JobPage;
  /** The key's budget: the charge or hold must fit what its counter has left (checked with the balance). */
  budget?: BudgetCheck;
  /** Canonical model of a generation, for the refusal counts. */
  model?: string;
  /** Outcomes of this account's earlier requests, stored in the same call (latency statistics). */
  samples?: Sample[];
}

export type AdmitResult =
  | { ok: true; job?: JobRecord | null; jobs?: JobRecord[]; hasMore?: boolean }
  | { ok: false; reason: 'rate_limited'; retryAfterSec: number }
  | { ok: false; reason: 'insufficient'; availableMicro: number }
  | { ok: false; reason: 'budget_exceeded'; remainingMicro: number }
  | { ok: false; reason: 'replay'; response: string }
  | { ok: false; reason: 'in_flight' }
  | { ok: false; reason: 'idem_mismatch' }
  | { ok: false; reason: 'void' };

/**
 * Charge once per claim id; converts the hold (if any) into the actual charge (video completion). With `state`, the
 * job whose key is the claim id gets its final state in the same step; a repeat returns the state stored first.
 */
export interface SettleRequest {
  account: string;
  claim: string;
  amount: number;
  holdId?: string;
  memo: string;
  now: number;
  state?: string;
  /** Record the usage even when nothing is charged (the free tier's deliveries). */
  record?: boolean;
}

export type SettleResult =
  | { ok: true; charged: boolean; amount: number; balance: number; state: string | null }
  | { ok: false; reason: 'insufficient'; availableMicro: number };

/**
 * Lowers what a claim charged to `keep` and returns the difference to the balance. Idempotent: the same request
 * sent twice refunds once. A claim that does not exist (its charge never landed) is voided, so a late-landing
 * admit of it is refused instead of charging.
 */
export interface RefundRequest {
  account: string;
  claim: string;
  keep: number;
  now: number;
}

export interface ReleaseRequest {
  account: string;
  /** Dropped and remembered as released: a late-landing admit of the same hold id is refused. */
  holdId?: string;
  /** An unfinished idempotency marker to clear (a finished one is kept). */
  idemKey?: string;
  /**
   * Clear it only when it is the marker of the request being undone — the one its admit set at `at` (that admit's
   * `now`, epoch ms) for `ttlSec` — never one that a retry with the same key has set since.
   */
  idemOwner?: { at: number; ttlSec: number };
  now: number;
}

/** A signed correction of an account's balance; refused when it would take `available` below zero. */
export interface AdjustRequest {
  account: string;
  /** signed micro-USD: positive credits the account (a refund), negative debits it (a correction) */
  amount: number;
  reason: string;
  /** unique per adjustment: the usage record's claim */
  id: string;
  now: number;
}

export type AdjustResult = { ok: true; balance: number } | { ok: false; reason: 'no_account' } | { ok: false; reason: 'insufficient'; availableMicro: number };
