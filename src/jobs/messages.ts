// The shapes of what the JOBS queue carries, at the bottom of the import graph (src/env.ts, the queue's producers
// and its consumer all name them; this file imports nothing).

/**
 * The unfinished Idempotency-Key marker of a request being undone: cleared with it, so that a retry with the same key
 * runs again — only that marker, named by the `now` (epoch ms) and pendingTtlSec of the admit that set it, never one
 * a retry has set since.
 */
export type IdemMarker = { key: string; at: number; ttlSec: number };

/** Follow-up ledger work whose outcome was unknown when the request ended (src/jobs/queue.ts). */
export type Compensation =
  /** Lower what `claim` charges to `keep` (0 = void it, even if its charge has not landed yet). */
  | { t: 'refund'; account: string; claim: string; keep: number; idem?: IdemMarker }
  /** Release a hold (and remember it as released), and/or clear an Idempotency-Key marker. */
  | { t: 'release'; account: string; holdId?: string; idem?: IdemMarker }
  /** Store what an Idempotency-Key replays (and/or a video job's record) after a delivery whose store call failed. */
  | {
      t: 'remember';
      account: string;
      idem?: { key: string; fingerprint: string; response: string; ttlSec: number };
      job?: { key: string; id: string; createdAt: number; from?: string; meta?: string };
    };

/** The job watcher's next look at a video (src/jobs/watch.ts). */
export type WatchMessage = { t: 'watch'; account: string; id: string; origin: string; n: number };

/** A customer webhook event (Standard Webhooks payload). */
export interface VideoEvent {
  id: string;
  object: 'event';
  created_at: number;
  type: 'video.completed' | 'video.failed';
  data: { id: string };
}

/** A customer webhook delivery and its retries under one webhook-id (src/jobs/webhooks.ts). */
export type WebhookMessage = { t: 'webhook'; account: string; event: VideoEvent; first: number; n: number };

/** Deletes a re-hosted output when its retention ends (src/jobs/retention.ts). */
export type MediaExpireMessage = { t: 'media-expire'; key: string; at: number };

/** Everything the JOBS queue carries: compensations, the job watcher's looks, customer webhook deliveries, media expiry. */
export type JobMessage = Compensation | WatchMessage | WebhookMessage | MediaExpireMessage;
