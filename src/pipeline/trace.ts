// What a request did upstream, for its log line (src/http/log.ts) and the operator statistics (issue 21): the
// canonical model and provider that served it, the time spent waiting on the provider, and — for images, whose one
// ledger call comes before the provider's answer — an outcome sample (latency, error code) that rides on the
// account's next admit through this isolate instead of costing a ledger round trip of its own.
import type { Sample } from '../ledger/types';

export interface Trace {
  model?: string;
  provider?: string;
  /** ms spent in provider calls */
  upstreamMs?: number;
}

interface Traced {
  trace?: Trace;
  key: { account: string };
}

/** The route that serves the request (a fallback that serves instead may call this again). */
export function traceRoute(ctx: Traced, model: string, provider: string): void {
  if (ctx.trace) Object.assign(ctx.trace, { model, provider });
}

/** Runs a provider call and adds its duration to the request's upstream time. */
export async function upstream<T>(ctx: Traced, call: () => Promise<T>): Promise<T> {
  const started = Date.now();
  try {
    return await call();
  } finally {
    if (ctx.trace) ctx.trace.upstreamMs = (ctx.trace.upstreamMs ?? 0) + (Date.now() - started);
  }
}

// ---- outcome samples, held per account until a later admit of that account carries them ----

/** A later admit carries the samples once this many wait, or the oldest is this old. */
const BATCH = 8;
const MAX_AGE_MS = 30_000;
/** Bounds on what an isolate holds (beyond them the oldest samples are dropped: statistics, not records). */
const MAX_PER_ACCOUNT = 200;
const MAX_ACCOUNTS = 1_000;

const pending = new Map<string, Sample[]>();

/** Notes how the request under `claim` ended (its upstream time so far; `code` when it failed). */
export function noteOutcome(ctx: Traced, claim: string, code: string | null): void {
  const account = ctx.key.account;
  let list = pending.get(account);
  if (!list) {
    if (pending.size >= MAX_ACCOUNTS) pending.delete(pending.keys().next().value!);
    pending.set(account, (list = []));
  }
  if (list.length >= MAX_PER_ACCOUNT) list.shift();
  list.push({ claim, at: Date.now(), ms: Math.round(ctx.trace?.upstreamMs ?? 0), code });
}

/** The samples an admit of `account` should carry now (taken: the caller sends them), or undefined. */
export function takeSamples(account: string, now: number, all = false): Sample[] | undefined {
  const list = pending.get(account);
  if (!list?.length || (!all && list.length < BATCH && now - list[0]!.at < MAX_AGE_MS)) return undefined;
  pending.delete(account);
  return list;
}

/** Accounts with samples waiting in this isolate. */
export function pendingAccounts(): string[] {
  return [...pending.keys()];
}
