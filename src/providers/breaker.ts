// Circuit breakers, one per upstream: each fal endpoint on FAL_RUN_URL (fal's outages are per app — a model's
// runners — so another endpoint may still serve, which is what a fallback needs) and the worker. A breaker opens
// after BREAKER_THRESHOLD consecutive requests that failed even after their retries (a failure a retry cured does not
// count; an answer about the request — a 4xx — or any 200 shows the upstream is up and resets the count). Open, it
// answers 503 provider_unavailable with a retry-after for the rest of BREAKER_COOLDOWN_MS without calling upstream;
// then one request goes through as a probe (half-open): its success closes the breaker, its failure opens it again.
//
// State lives in the isolate's memory (a Map lookup and a clock read on the hot path). Opening and closing are also
// published to the colo's Cache API (caches.default) — written only on transitions — and each isolate reads that
// entry at most every BREAKER_SYNC_MS, in the background (the request that triggers the read does not wait for it):
// an isolate that has not seen the failures itself learns of an open breaker within a few seconds. No ledger call,
// ever. Best effort: where the Cache API does nothing (workers.dev) each isolate keeps its own state.
import { ApiError } from '../http/errors';

export interface BreakerSettings {
  /** consecutive failed requests that open the breaker */
  threshold: number;
  /** how long it stays open before a probe is let through */
  cooldownMs: number;
}

/** How often an isolate reads the shared state of a breaker it uses. */
export const BREAKER_SYNC_MS = 5_000;

/** The breakers' clock (tests replace it to move time without waiting). */
export const clock = { now: () => Date.now() };

interface State {
  failures: number;
  /** 0: closed; otherwise open until this time (ms), then half-open */
  openUntil: number;
  /** a half-open probe is in flight */
  probing: boolean;
  syncedAt: number;
}

const states = new Map<string, State>();

/** What a request holds while it uses an upstream: whether it is the half-open probe. */
export interface Ticket {
  key: string;
  probe: boolean;
  done: boolean;
}

/** The breaker answer: 503 provider_unavailable with retry-after, marked so that a fallback may be tried. */
export class BreakerOpen extends ApiError {
  constructor(retryAfterSec: number) {
    super(503, 'provider_unavailable', 'The provider is failing; the gateway is not sending it requests for now. Retry shortly', null, { 'retry-after': String(retryAfterSec) });
  }
}

const SHARED = 'https://breaker.phi-gateway.internal/';
const sharedUrl = (key: string) => SHARED + encodeURIComponent(key);
const cache = (): Cache | null => (typeof caches !== 'undefined' ? (caches as unknown as { default: Cache }).default : null);

export class Breaker {
  constructor(
    readonly key: string,
    private readonly settings: BreakerSettings,
    /** keeps background cache reads and writes alive past the response */
    private readonly exec?: ExecutionContext,
  ) {}

  private get state(): State {
    let s = states.get(this.key);
    if (!s) states.set(this.key, (s = { failures: 0, openUntil: 0, probing: false, syncedAt: 0 }));
    return s;
  }

  /** Lets a request through (or throws BreakerOpen); the ticket must be ended with success/failure/release. */
  enter(): Ticket {
    const s = this.state;
    const now = clock.now();
    if (now - s.syncedAt >= BREAKER_SYNC_MS) {
      s.syncedAt = now;
      this.background(this.sync());
    }
    if (s.openUntil === 0) return { key: this.key, probe: false, done: false };
    if (now < s.openUntil) throw new BreakerOpen(Math.max(1, Math.ceil((s.openUntil - now) / 1000)));
    if (s.probing) throw new BreakerOpen(Math.max(1, Math.ceil(this.settings.cooldownMs / 1000)));
    s.probing = true;
    return { key: this.key, probe: true, done: false };
  }

  /** The upstream answered (a result, or a 4xx about the request): the count resets, a probe closes the breaker. */
  success(t: Ticket): void {
    if (t.done) return;
    t.done = true;
    const s = this.state;
    s.failures = 0;
    if (t.probe) s.probing = false;
    if (s.openUntil !== 0 && (t.probe || clock.now() >= s.openUntil)) {
      s.openUntil = 0;
      this.background(cache()?.delete(sharedUrl(this.key)));
    }
  }

  /** The request failed even after its retries: counted; the threshold (or a failed probe) opens the breaker. */
  failure(t: Ticket): void {
    if (t.done) return;
    t.done = true;
    const s = this.state;
    s.failures++;
    if (t.probe) s.probing = false;
    if (t.probe || (s.openUntil === 0 && s.failures >= this.settings.threshold)) this.open(clock.now() + this.settings.cooldownMs);
  }

  /** Neither (the request ended for a reason that says nothing about the upstream): a probe slot is freed. */
  release(t: Ticket): void {
    if (t.done) return;
    t.done = true;
    if (t.probe) this.state.probing = false;
  }

  private open(until: number): void {
    const s = this.state;
    s.openUntil = until;
    const ttl = Math.max(1, Math.ceil((until - clock.now()) / 1000));
    const entry = new Response('', { headers: { 'cache-control': `max-age=${ttl}`, 'x-open-until': String(until) } });
    this.background(cache()?.put(sharedUrl(this.key), entry));
  }

  /** Adopts an open state another isolate published (never closes one: a local probe does that). */
  private async sync(): Promise<void> {
    const hit = await cache()?.match(sharedUrl(this.key));
    const until = Number(hit?.headers.get('x-open-until'));
    await hit?.body?.cancel();
    const s = this.state;
    if (Number.isFinite(until) && until > clock.now() && s.openUntil === 0) {
      s.openUntil = until;
      s.failures = Math.max(s.failures, this.settings.threshold);
    }
  }

  private background(p: Promise<unknown> | undefined): void {
    if (!p) return;
    const quiet = p.catch(() => {});
    try {
      this.exec?.waitUntil(quiet);
    } catch {
      /* no execution context (unit calls): the promise runs on its own */
    }
  }
}

/** A breaker's state, for tests and diagnostics: closed, open (until), or half-open (with a probe in flight). */
export function breakerState(key: string): { state: 'closed' | 'open' | 'half_open'; failures: number; openUntil: number; probing: boolean } {
  const s = states.get(key) ?? { failures: 0, openUntil: 0, probing: false, syncedAt: 0 };
  const state = s.openUntil === 0 ? 'closed' : clock.now() < s.openUntil ? 'open' : 'half_open';
  return { state, failures: s.failures, openUntil: s.openUntil, probing: s.probing };
}

/** Forgets this isolate's memory of every breaker (tests: a fresh isolate, which learns shared state on its next sync). */
export function forgetBreakers(): void {
  states.clear();
}

/** The breaker key of a fal endpoint on the run host, and of the worker. */
export const falBreakerKey = (runBase: string, endpoint: string) => `fal ${runBase} ${endpoint}`;
export const workerBreakerKey = (workerBase: string) => `worker ${workerBase}`;
