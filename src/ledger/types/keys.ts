// Keys and their settings: the key record authentication reads, budgets and their counters, a PATCH, what the
// operator sees of a key, the PHI screening override and the account's webhook endpoint.
import type { Tier } from '../../catalog/resolve';

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

/** An account's customer webhook endpoint. The signing secret is not stored: it is derived from SIGNING_SECRET and `nonce`. */
export interface WebhookConfig {
  url: string;
  nonce: string;
  createdAt: number;
}
