// Erasing an account: what the request says, what the erase answers, and the type of its audit tombstone.

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
