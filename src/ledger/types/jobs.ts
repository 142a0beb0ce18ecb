// Video jobs: a job's record and a page of them, what a finished request leaves behind (remember), and a job's
// deletion (discard).

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
