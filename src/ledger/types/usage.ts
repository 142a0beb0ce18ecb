// What an account's store reports: usage records, the account view, the audit trail, and activity (refusal counts
// and outcome samples for operator statistics).
import type { CounterView } from './keys';

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
