import type { Config } from '../config';
import type { Env } from '../env';
import { storeUnavailable } from '../http/errors';
import { DurableLedger, ResidencyError } from './durable/client';
import type { Ledger } from './types';
import { UpstashLedger } from './upstash/client';

export type { Ledger } from './types';

const cache = new WeakMap<Config, Ledger>();

/** The configured ledger: Upstash when its URL/token are set, else the embedded Durable Object store. */
export function getLedger(env: Env, cfg: Config): Ledger {
  let ledger = cache.get(cfg);
  if (!ledger) {
    const inner = cfg.upstash ? new UpstashLedger({ ...cfg.upstash, timeoutMs: cfg.STORE_TIMEOUT_MS }) : new DurableLedger(env.LEDGER, cfg.DATA_JURISDICTION);
    ledger = guarded(inner, cfg.STORE_TIMEOUT_MS);
    cache.set(cfg, ledger);
  }
  return ledger;
}

/** Every method of the interface, checked both ways by the compiler: a method added to Ledger must be listed. */
const METHODS = ['findKey', 'issueKey', 'revokeKey', 'credit', 'account', 'admit', 'settle', 'refund', 'release', 'remember', 'discard', 'setWebhook', 'getWebhook', 'setPhiScan', 'listKeys', 'listAccounts', 'adjust', 'usage', 'audit', 'auditLog', 'eraseAccount', 'updateKey', 'activity'] as const satisfies readonly (keyof Ledger)[];
const complete: Exclude<keyof Ledger, (typeof METHODS)[number]> extends never ? true : never = true;
void complete;

/**
 * Every store call answers within `timeoutMs` or fails as 503 store_unavailable (fail closed: the gateway never
 * serves what it could not bill). A late answer is ignored; money operations are idempotent, so whoever retries
 * them (the caller, or the compensation queue) cannot move money twice.
 */
export function guarded(inner: Ledger, timeoutMs: number): Ledger {
  const wrapped = {} as Record<string, unknown>;
  for (const name of METHODS) {
    wrapped[name] = async (...args: unknown[]) => {
      let stop = () => {};
      const deadline = new Promise<never>((_, reject) => {
        const timer = setTimeout(() => reject(storeUnavailable()), timeoutMs);
        stop = () => clearTimeout(timer);
      });
      try {
        const call = (inner[name] as (...a: unknown[]) => Promise<unknown>).apply(inner, args);
        call.catch(() => {}); // a call that loses the race may still fail later: not unhandled
        return await Promise.race([call, deadline]);
      } catch (err) {
        // Never log or pass on the error itself: a store error can quote the command, stored responses included.
        // A residency refusal is the gateway's own words for the operator (no customer data in it).
        throw err instanceof ResidencyError ? storeUnavailable(err.message) : storeUnavailable();
      } finally {
        stop();
      }
    };
  }
  return wrapped as unknown as Ledger;
}

/** Attempts at an idempotent money operation whose answer was lost, before its outcome counts as unknown. */
export const STORE_ATTEMPTS = 3;

const unknownOutcome = (err: unknown) => err instanceof Error && 'code' in err && err.code === 'store_unavailable';

/**
 * Sends an idempotent ledger operation again while its outcome is unknown (503): up to STORE_ATTEMPTS times, and
 * no new attempt once `budgetMs` has passed (a frozen store costs one deadline, a lost reply a quick resend).
 */
export async function persist<T>(op: () => Promise<T>, budgetMs: number): Promise<T> {
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await op();
    } catch (err) {
      if (attempt >= STORE_ATTEMPTS || Date.now() - started >= budgetMs || !unknownOutcome(err)) throw err;
    }
  }
}
