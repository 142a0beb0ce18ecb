import type { Config } from '../config';
import type { Env } from '../env';
import { storeUnavailable } from '../http/errors';
import { DurableLedger } from './durable';
import type { Ledger } from './types';
import { UpstashLedger } from './upstash';

export type { Ledger } from './types';

const cache = new WeakMap<Config, Ledger>();

/** The configured ledger: Upstash when its URL/token are set, else the embedded Durable Object store. */
export function getLedger(env: Env, cfg: Config): Ledger {
  let ledger = cache.get(cfg);
  if (!ledger) {
    ledger = failClosed(cfg.upstash ? new UpstashLedger(cfg.upstash) : new DurableLedger(env.LEDGER));
    cache.set(cfg, ledger);
  }
  return ledger;
}

/** Any store failure becomes 503 store_unavailable: the gateway never serves what it could not bill. */
export function failClosed(inner: Ledger): Ledger {
  const wrapped = {} as Record<string, unknown>;
  for (const name of ['findKey', 'issueKey', 'revokeKey', 'credit', 'account', 'admit', 'settle', 'release'] as const) {
    wrapped[name] = async (...args: unknown[]) => {
      try {
        return await (inner[name] as (...a: unknown[]) => Promise<unknown>)(...args);
      } catch {
        // Never log the error itself: a store error can quote the command, stored responses included.
        throw storeUnavailable();
      }
    };
  }
  return wrapped as unknown as Ledger;
}
