// The ledger's lifetimes and limits, shared by both stores, and the rate limit's algorithm (GCRA) that the Durable
// Object runs in TypeScript and the Upstash admit runs in Lua.

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
