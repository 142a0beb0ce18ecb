// The ledger: keys, credits, charges, holds, claims, usage and rate limits. Integer micro-USD throughout.
// Two stores implement it (Upstash Redis, SQLite Durable Object); one contract test suite runs against both.
// Every money operation is atomic in its store and idempotent by its id, so a call whose reply was lost can be
// sent again: it never moves money twice. This file is the one import point: the `Ledger` interface here, the
// request and answer shapes by concern under types/, the lifetimes and the rate limit in limits.ts.

import type { EraseRequest, EraseResult } from './types/erase';
import type { DiscardRequest, RememberRequest } from './types/jobs';
import type { KeyInfo, KeyPatch, KeyRecord, PhiScanMode, WebhookConfig } from './types/keys';
import type { AdjustRequest, AdjustResult, AdmitRequest, AdmitResult, RefundRequest, ReleaseRequest, SettleRequest, SettleResult } from './types/money';
import type { AccountView, Activity, AuditEvent, UsageRecord } from './types/usage';

export * from './limits';
export * from './types/erase';
export type * from './types/jobs';
export type * from './types/keys';
export type * from './types/money';
export type * from './types/usage';

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
