// Retries that cannot duplicate work, for synchronous image calls only (fal.run, the worker). An attempt is repeated
// only when its failure proves nothing was produced: a connection that failed before any answer, within
// NO_WORK_WINDOW_MS of being opened (connect, TLS, reset: workerd reports all of them alike, so the window tells a
// refused connection from a request that was running when its connection dropped), or an answer that says the
// request was not run (429, 502, 503, 504; fal's own x-fal-retryable wins). A lost answer after the upstream may have
// worked (a connection dropped later, a 200 whose body broke, our own timeout) is never repeated. Backoff is
// exponential with ±25 % jitter, at least what retry-after asks, and every attempt and wait fits in the request's
// deadline (the attempt's own timeout is what remains). Queue submits never come here: see README "Retries".
import { ApiError, upstreamError, upstreamTimeout } from '../http/errors';
import { BreakerOpen, type Breaker, type Ticket } from './breaker';

/** A connection failure this soon after the attempt started cannot have been preceded by work upstream. */
export const NO_WORK_WINDOW_MS = 1_000;
/** First backoff; doubled per attempt, capped at RETRY_MAX_DELAY_MS, ±25 % jitter. */
export const RETRY_BASE_MS = 200;
export const RETRY_MAX_DELAY_MS = 4_000;
/** An attempt is not started with less than this left of the deadline. */
export const MIN_ATTEMPT_MS = 250;

/**
 * An upstream failure with what the retry loop and the breaker need: may it be repeated (nothing was produced),
 * after how long (retry-after), and does it say the upstream is down (counts toward the breaker) or up (it answered).
 */
export class UpstreamError extends ApiError {
  constructor(
    base: ApiError,
    readonly retryable: boolean,
    readonly health: 'down' | 'up',
    readonly retryAfterMs?: number,
  ) {
    super(base.status, base.code, base.message, base.param, base.headers);
  }
}

/** The request's budget across its attempts (and its fallbacks): the deadline and the attempts made so far. */
export interface Budget {
  /** epoch ms by which every upstream attempt must be over */
  deadline: number;
  /** attempts made (x-phi-attempts), across endpoints */
  attempts: number;
  /** attempts per endpoint, at most */
  maxAttempts: number;
}

export const remaining = (b: Budget) => b.deadline - Date.now();

/** retry-after as ms (delta seconds or an HTTP date), undefined when absent or unreadable; capped at a minute. */
export function retryAfterMs(res: Response): number | undefined {
  const v = res.headers.get('retry-after');
  if (v === null || v.trim() === '') return undefined;
  const secs = Number(v);
  const ms = Number.isFinite(secs) ? secs * 1000 : Date.parse(v) - Date.now();
  return Number.isFinite(ms) ? Math.min(60_000, Math.max(0, ms)) : undefined;
}

/** The wait before attempt `i + 1` (i = 0 after the first failure). */
export function backoffMs(i: number, after?: number): number {
  const exp = Math.min(RETRY_BASE_MS * 2 ** i, RETRY_MAX_DELAY_MS);
  const jittered = exp * (0.75 + Math.random() * 0.5);
  return Math.round(Math.max(jittered, after ?? 0));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const isRetryable = (err: unknown) => err instanceof UpstreamError && err.retryable;

/**
 * Runs `attempt` (given the time that remains) until it succeeds, fails for good, or the budget is spent. With a
 * breaker: an open one throws BreakerOpen without an attempt, and the final outcome (not each attempt's) is what it
 * counts. `count: false` for preparatory calls (uploads) that are not generation attempts (x-phi-attempts).
 */
export async function retrying<T>(budget: Budget, guard: { breaker?: Breaker; count?: boolean }, attempt: (timeoutMs: number) => Promise<T>): Promise<T> {
  const { breaker, count = true } = guard;
  const ticket = breaker?.enter();
  try {
    for (let i = 0; ; i++) {
      // Nothing left to try with (the request spent its deadline before this upstream): a timeout, not a call.
      if (i === 0 && remaining(budget) < MIN_ATTEMPT_MS) throw upstreamTimeout();
      if (count) budget.attempts++;
      let err: unknown;
      try {
        const out = await attempt(remaining(budget));
        if (ticket) breaker!.success(ticket);
        return out;
      } catch (e) {
        err = e;
      }
      const wait = isRetryable(err) && i + 1 < budget.maxAttempts ? backoffMs(i, (err as UpstreamError).retryAfterMs) : null;
      if (wait === null || remaining(budget) - wait < MIN_ATTEMPT_MS) {
        if (ticket) settle(breaker!, ticket, err);
        throw err;
      }
      await sleep(wait);
    }
  } finally {
    if (ticket) breaker!.release(ticket); // no-op once success/failure ended it
  }
}

/** Ends a breaker ticket by a request's final error: down counts, up resets, anything else frees the slot. */
export function settle(breaker: Breaker, ticket: Ticket, err: unknown): void {
  if (err instanceof UpstreamError) (err.health === 'down' ? breaker.failure : breaker.success).call(breaker, ticket);
  else breaker.release(ticket);
}

/** May the request move on to its next endpoint: its failure was retryable to the end, or the breaker was open. */
export const mayFallBack = (err: unknown) => err instanceof BreakerOpen || isRetryable(err);

/** The error as answered to the customer, with the attempts made (x-phi-attempts). */
export function withAttempts(err: unknown, attempts: number): unknown {
  if (!(err instanceof ApiError)) return err;
  return new ApiError(err.status, err.code, err.message, err.param, { ...err.headers, 'x-phi-attempts': String(attempts) });
}

/** A failed connection (no answer at all), classified by how long after its start it failed. */
export function connectionFailure(startedAt: number): UpstreamError {
  const early = Date.now() - startedAt < NO_WORK_WINDOW_MS;
  return new UpstreamError(upstreamError('The provider could not be reached'), early, 'down');
}
