// The ledger: keys, credits, charges, holds, claims, usage and rate limits. Integer micro-USD throughout.
// Two stores implement it (Upstash Redis, SQLite Durable Object); one contract test suite runs against both.
// Every money operation is atomic in its store and idempotent by its id, so a call whose reply was lost can be
// sent again: it never moves money twice.

import type { Tier } from '../catalog/resolve';

export interface KeyRecord {
  keyId: string;
  account: string;
  tier: Tier;
  /** Requests per minute allowed for this key. */
  rpm: number;
  /** Unix seconds after which the key no longer authenticates (none: never). */
  expiresAt?: number | null;
  /** The account's PHI screening override, set by an operator (absent: the gateway's PHI_SCAN applies). */
  phiScan?: PhiScanMode;
  /** What this key may spend per period (absent: only the account's balance limits it). */
  budget?: KeyBudget | null;
}

/** A per-key spending cap: `micro` micro-USD per UTC day, per UTC month, or in total. */
export interface KeyBudget {
  micro: number;
  period: BudgetPeriod;
}

export type BudgetPeriod = 'day' | 'month' | 'total';

/**
 * The budget a charge or hold is checked against, in the admit itself: the key's spend counter for the current
 * period (`id`, kept in the account's store until `until` ms, 0 = kept) and its limit. Charges and holds count;
 * refunds and released holds give back.
 */
export interface BudgetCheck {
  id: string;
  limit: number;
  until: number;
}

/** A spend counter as the store sees it: what was charged under it (net of refunds) and what its live holds hold. */
export interface CounterView {
  charged: number;
  held: number;
}

/** Fields a PATCH of a key changes (absent: unchanged; null: removed). */
export interface KeyPatch {
  label?: string | null;
  expiresAt?: number | null;
  rpm?: number;
  budget?: KeyBudget | null;
}

/** PHI content screening: refuse requests with direct identifiers (`block`), or do not screen (`off`). */
export type PhiScanMode = 'block' | 'off';

/** What the operator sees of a key (never its hash or plaintext). Times in unix seconds. */
export interface KeyInfo {
  keyId: string;
  label: string | null;
  tier: Tier;
  rpm: number;
  createdAt: number;
  expiresAt: number | null;
  revokedAt: number | null;
  lastUsedAt: number | null;
  budget: KeyBudget | null;
  /** The budget's current period as its counter holds it (null without a budget). */
  budgetUsed: CounterView | null;
}

/**
 * What an account's store counts besides its usage records, for operator statistics: refusals the admit answered
 * (per minute, key, model and code) and outcome samples of earlier requests (upstream latency, error code).
 */
export interface Refusals {
  /** unix minute */
  minute: number;
  keyId: string;
  model: string | null;
  code: string;
  n: number;
}

/** One request's outcome, reported by the gateway with a later admit of the same account (no extra round trip). */
export interface Sample {
  /** the request's claim (its usage record) */
  claim: string;
  /** ms */
  at: number;
  /** upstream latency, ms */
  ms: number;
  /** the error code when it failed */
  code: string | null;
}

export interface Activity {
  refusals: Refusals[];
  samples: Sample[];
}

/**
 * One audit trail entry: who did what, when — never content, prompts or URLs. `at` in ms (stored), shown in unix
 * seconds. `detail` holds small scalar facts (a count, a status, an event id, a model).
 */
export interface AuditEvent {
  at: number;
  type: string;
  request_id: string | null;
  key_id: string | null;
  detail: Record<string, string | number | boolean | null>;
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
  /** The last use of any of its keys (unix seconds, to the minute). */
  last_used_at: number | null;
  /** The spend counter asked for (`account(…, counter)`): charged and held under it. */
  counter?: CounterView;
}

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
 * A video job's record in its account: written when the enqueue completes (the upstream request id exists only
 * after the submit), given its final state by the settle that charges it (or by a zero settle when it failed), and
 * read by every poll in the poll's one ledger call.
 */
export interface JobRecord {
  /** The job's key in the ledger (its claim). */
  key: string;
  /** The public video id. */
  id: string;
  /** unix seconds */
  createdAt: number;
  /** The pipeline's own JSON for a finished job (completed, failed or deleted); null while it runs. */
  state: string | null;
  /** The video this one remixes (its public id), if any. */
  from: string | null;
  /** Who enqueued it, for its usage record: `{"r": request id, "k": key id}` (JSON), if known. */
  meta?: string | null;
}

/** One page of an account's jobs, ordered by (createdAt, key); `after` is the position of the previous page's last. */
export interface JobPage {
  after?: { createdAt: number; key: string };
  limit: number;
  order: 'asc' | 'desc';
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

/** What a finished request leaves behind, in one call: its Idempotency-Key response and/or its video job's record. */
export interface RememberRequest {
  account: string;
  now: number;
  idem?: { key: string; fingerprint: string; response: string; ttlSec: number };
  job?: { key: string; id: string; createdAt: number; from?: string; meta?: string };
}

/**
 * Deletes a job: a settled one keeps its charge and is marked deleted; an unsettled one is ended here — its hold
 * released, its claim settled at 0 (so no later completion can charge it) — and marked deleted. Idempotent.
 */
export interface DiscardRequest {
  account: string;
  key: string;
  holdId?: string;
  state: string;
  now: number;
}

/** An account's customer webhook endpoint. The signing secret is not stored: it is derived from SIGNING_SECRET and `nonce`. */
export interface WebhookConfig {
  url: string;
  nonce: string;
  createdAt: number;
}

export interface Ledger {
  findKey(hash: string): Promise<KeyRecord | null>;
  /** Stores a new key (by hash); creates the account with `credits` if it does not exist yet. */
  issueKey(hash: string, rec: KeyRecord, credits: number, meta?: { label: string | null; createdAt: number }): Promise<void>;
  /** Revokes by key id (idempotent: a revoked key stays revoked, listed with when); its account, or null when no such key. */
  revokeKey(keyId: string, now: number): Promise<string | null>;
  /** Changes a live key's label, expiry, rpm or budget; its account (`revoked`: nothing changed), or null when no such key. */
  updateKey(keyId: string, patch: KeyPatch): Promise<{ account: string; revoked: boolean } | null>;
  /** An account's keys, oldest first (revoked ones included). */
  listKeys(account: string): Promise<KeyInfo[]>;
  /** Account names in name order, after `after`, at most `limit`. */
  listAccounts(after: string | null, limit: number): Promise<{ accounts: string[]; hasMore: boolean }>;
  /** Appends audit events to the account's trail, dropping entries older than `retentionMs`. */
  audit(account: string, events: AuditEvent[], retentionMs: number): Promise<void>;
  /** Audit events with `from` ≤ at ≤ `to` (ms), oldest first, at most `limit`. */
  auditLog(account: string, from: number, to: number, limit: number): Promise<AuditEvent[]>;
  /** Usage records with `from` ≤ at ≤ `to` (ms), oldest first, at most `limit`. */
  usage(account: string, from: number, to: number, limit: number): Promise<UsageRecord[]>;
  /** Applies a signed adjustment, recorded in the account's usage with its reason. */
  adjust(req: AdjustRequest): Promise<AdjustResult>;
  /** Adds credits and returns the new balance; null when the account does not exist and `create` is false. */
  credit(account: string, amount: number, create: boolean): Promise<number | null>;
  /**
   * The account's money and recent usage; with `counter`, that spend counter too. Null when the account does not
   * exist — unless keys were used in it without a balance (the shared test key's free tier): then $0.
   */
  account(account: string, now: number, counter?: string): Promise<AccountView | null>;
  /** Refusal counts and outcome samples with `from` ≤ time ≤ `to` (ms). */
  activity(account: string, from: number, to: number): Promise<Activity>;
  admit(req: AdmitRequest): Promise<AdmitResult>;
  settle(req: SettleRequest): Promise<SettleResult>;
  /** Returns what the claim charges after the refund. */
  refund(req: RefundRequest): Promise<number>;
  release(req: ReleaseRequest): Promise<void>;
  /** Stores the response an Idempotency-Key replays, and records a video job (idempotent). */
  remember(req: RememberRequest): Promise<void>;
  /** Returns false when the job was already deleted. */
  discard(req: DiscardRequest): Promise<boolean>;
  /** Sets (or with null removes) the account's webhook endpoint. False when the account does not exist. */
  setWebhook(account: string, hook: WebhookConfig | null): Promise<boolean>;
  /** The account's webhook endpoint, or null (none set, or no such account). */
  getWebhook(account: string): Promise<WebhookConfig | null>;
  /** Sets (null: clears) the account's PHI screening override; false when the account does not exist. */
  setPhiScan(account: string, mode: PhiScanMode | null): Promise<boolean>;
  /** Erases an account (see EraseRequest); refused while it holds money unless forced. Idempotent. */
  eraseAccount(req: EraseRequest): Promise<EraseResult>;
}

/**
 * Erasing an account removes everything the ledger keeps for it — keys (revoked ones too), balance, holds, claims,
 * usage, idempotency records, the job index, the webhook endpoint, rate and last-use state, its place in the
 * account list — except its audit trail. The trail gets the tombstone (`account.erased`: balance forfeited, holds
 * released, keys and jobs deleted, forced or not) in the same atomic step that takes the money, so an erase is never
 * without one; the trail is then kept `auditRetentionMs` and dropped. Refused (`not_empty`) while the balance or the
 * live holds are non-zero, unless `force`. Idempotent: an erased or unknown account answers `already: true`.
 */
export interface EraseRequest {
  account: string;
  force: boolean;
  now: number;
  /** The erasing request's id, for the tombstone. */
  requestId?: string | null;
  /** How long the erased account's audit trail (with its tombstone) is kept (AUDIT_RETENTION_DAYS). */
  auditRetentionMs?: number;
}

/** `jobIds`: the public ids of the account's jobs, whose re-hosted copies the caller deletes. */
export type EraseResult =
  | { ok: true; already: boolean; balance: number; held: number; keys: number; jobIds: string[] }
  | { ok: false; reason: 'not_empty'; balance: number; held: number };

/** The audit type of an erasure's tombstone. */
export const ERASED_EVENT = 'account.erased';

/** How long a claim id is remembered (a job can be re-polled for at least this long without a second charge). */
export const CLAIM_TTL_SEC = 30 * 24 * 3600;
/** How long a job's record is kept (and listed). */
export const JOB_TTL_SEC = CLAIM_TTL_SEC;
/** Recent usage records shown with an account. */
export const USAGE_KEEP = 100;
/** How long usage records are kept (the usage API's horizon). */
export const USAGE_RETENTION_MS = 400 * 24 * 3600 * 1000;
/** The rate-limit window: a burst of at most `rpm` requests, then one every 60 s / rpm. */
export const RATE_WINDOW_MS = 60_000;
/** How long a released hold id is remembered (longer than any hold lives), so a late admit of it is refused. */
export const RELEASED_HOLD_TTL_MS = 24 * 3600 * 1000;

/**
 * GCRA (the generic cell rate algorithm) on a "theoretical arrival time": each request moves it 60 s / rpm into
 * the future; a request is refused while it lies more than the window ahead. Smooth — no minute boundary to
 * straddle — and one stored number per key. Returns the new TAT, or the ms to wait.
 */
export function gcra(tat: number | null, now: number, rpm: number): { ok: true; tat: number } | { ok: false; waitMs: number } {
  const interval = RATE_WINDOW_MS / rpm;
  const base = Math.max(tat ?? now, now);
  const ahead = base + interval - now;
  if (ahead > RATE_WINDOW_MS) return { ok: false, waitMs: ahead - RATE_WINDOW_MS };
  return { ok: true, tat: base + interval };
}
