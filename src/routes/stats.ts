// GET /admin/stats (issue 21): requests, outcomes, refusals by code, spend and upstream latency over a time range,
// grouped by day, model, account or key — computed from what each account's store already keeps: its usage records
// (every admitted generation, with model, key and cost; refunds), its refusal counts (written by the admit that
// refused: 402 insufficient_quota / budget_exceeded, 429 rate_limit_exceeded), its outcome samples (an image's
// upstream latency and error code, carried by a later admit) and its audit trail (403 phi_blocked). Nothing on the
// hot path is added for it. Across all accounts it reads every account (a few ledger calls each): an operator's
// view, not a dashboard — Workers Analytics Engine (METRICS) is for those.
import type { Context } from 'hono';
import * as z from 'zod/mini';
import type { AppEnv } from '../app-env';
import { TEST_KEY } from '../http/auth';
import { badRequest } from '../http/errors';
import { oneOf, parse } from '../http/validate';
import type { Ledger } from '../ledger';
import type { Activity, AuditEvent, UsageRecord } from '../ledger/types';
import { NOTE_SUFFIX, usageLine } from '../pipeline/usage';
import { pendingAccounts, takeSamples } from '../pipeline/trace';
import { rangeQuery, USAGE_PAGE } from './usage';

const DAY = 24 * 3600;
const MAX_RANGE = 400 * DAY;
const GROUPS = ['day', 'model', 'account', 'key'] as const;
type Group = (typeof GROUPS)[number];

export const statsQuery = z.object({
  ...rangeQuery.shape,
  group: z.optional(oneOf(GROUPS)),
  account: z.optional(z.string({ error: 'must be a string' }).check(z.maxLength(64, 'must be at most 64 characters'))),
});

/** The refusals counted (402, 429 from the ledger; 403 from the PHI gate), always present in a row. */
export const REFUSALS = ['insufficient_quota', 'budget_exceeded', 'rate_limit_exceeded', 'phi_blocked'] as const;

export interface StatsRow {
  group: string;
  /** admitted generations + refusals */
  requests: number;
  /** admitted generations that delivered (images not fully refunded, delivered videos) */
  successes: number;
  /** admitted images that delivered nothing (refunded in full, or reported failed) */
  failures: number;
  failure_codes: Record<string, number>;
  refusals: Record<(typeof REFUSALS)[number], number>;
  /** charged less refunded (adjustments are not spend) */
  spend_micro: number;
  latency_ms: { p50: number | null; p95: number | null; samples: number };
}

interface Acc extends Omit<StatsRow, 'latency_ms'> {
  latencies: number[];
}

export interface AccountData {
  account: string;
  usage: UsageRecord[];
  activity: Activity;
  audit: AuditEvent[];
}

const blank = (group: string): Acc => ({
  group,
  requests: 0,
  successes: 0,
  failures: 0,
  failure_codes: {},
  refusals: { insufficient_quota: 0, budget_exceeded: 0, rate_limit_exceeded: 0, phi_blocked: 0 },
  spend_micro: 0,
  latencies: [],
});

/** Nearest-rank percentile of sorted values. */
const percentile = (sorted: number[], p: number) => (sorted.length ? sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)]! : null);

const finish = ({ latencies, ...row }: Acc): StatsRow => {
  const sorted = latencies.sort((a, b) => a - b);
  return { ...row, latency_ms: { p50: percentile(sorted, 0.5), p95: percentile(sorted, 0.95), samples: sorted.length } };
};

/** The statistics of some accounts' data, grouped; with the totals. Pure (tested on its own). */
export function aggregate(data: AccountData[], group: Group): { rows: StatsRow[]; total: StatsRow } {
  const rows = new Map<string, Acc>();
  const total = blank('total');
  const keyOf = (f: { at: number; model: string | null; account: string; key: string | null }) =>
    group === 'day' ? new Date(f.at * 1000).toISOString().slice(0, 10) : group === 'model' ? (f.model ?? 'unknown') : group === 'account' ? f.account : (f.key ?? 'unknown');
  const both = (f: Parameters<typeof keyOf>[0], apply: (a: Acc) => void) => {
    const k = keyOf(f);
    let row = rows.get(k);
    if (!row) rows.set(k, (row = blank(k)));
    apply(row);
    apply(total);
  };
  for (const { account, usage, activity, audit } of data) {
    const samples = new Map(activity.samples.map((s) => [s.claim, s]));
    const charges = new Map<string, { at: number; model: string | null; account: string; key: string | null; cost: number; image: boolean }>();
    const refunded = new Map<string, number>();
    const refundedAt = new Map<string, number>();
    for (const u of usage) {
      if (u.claim.endsWith(NOTE_SUFFIX)) continue;
      const l = usageLine(u);
      if (l.type === 'refund') {
        refunded.set(u.claim, (refunded.get(u.claim) ?? 0) - l.cost_micro);
        refundedAt.set(u.claim, l.at);
      }
      else if (l.type !== 'adjustment') charges.set(u.claim, { at: l.at, model: l.model, account, key: l.key_id, cost: l.cost_micro, image: l.type !== 'video' });
    }
    for (const [claim, ch] of charges) {
      const back = refunded.get(claim) ?? 0;
      const sample = samples.get(claim);
      const failed = ch.image && (sample?.code != null || (ch.cost > 0 && back >= ch.cost));
      both(ch, (a) => {
        a.requests++;
        a.spend_micro += ch.cost - back;
        if (failed) {
          a.failures++;
          const code = sample?.code ?? 'unknown';
          a.failure_codes[code] = (a.failure_codes[code] ?? 0) + 1;
        } else a.successes++;
        if (sample) a.latencies.push(sample.ms);
      });
    }
    // A refund whose charge lies before the range: its own time, model unknown.
    for (const [claim, back] of refunded) {
      if (charges.has(claim)) continue;
      both({ at: refundedAt.get(claim) ?? 0, model: null, account, key: null }, (a) => (a.spend_micro -= back));
    }
    for (const r of activity.refusals) {
      const code = r.code as (typeof REFUSALS)[number];
      both({ at: r.minute * 60, model: r.model, account, key: r.keyId }, (a) => {
        a.requests += r.n;
        if (code in a.refusals) a.refusals[code] += r.n;
      });
    }
    for (const e of audit) {
      if (e.type !== 'phi.blocked') continue;
      both({ at: Math.floor(e.at / 1000), model: null, account, key: e.key_id }, (a) => {
        a.requests++;
        a.refusals.phi_blocked++;
      });
    }
  }
  const list = [...rows.values()].map(finish);
  if (group === 'day') list.sort((a, b) => (a.group < b.group ? -1 : 1));
  else list.sort((a, b) => b.spend_micro - a.spend_micro || b.requests - a.requests || (a.group < b.group ? -1 : 1));
  return { rows: list, total: finish(total) };
}

/** Every account name (the key directory's, in pages) and the shared test key's. */
async function allAccounts(ledger: Ledger): Promise<string[]> {
  const names: string[] = [];
  let after: string | null = null;
  for (let page = 0; page < 1_000; page++) {
    const p: { accounts: string[]; hasMore: boolean } = await ledger.listAccounts(after, 100);
    names.push(...p.accounts);
    if (!p.hasMore || !p.accounts.length) break;
    after = p.accounts.at(-1)!;
  }
  if (!names.includes(TEST_KEY.account)) names.push(TEST_KEY.account);
  return names;
}

/** Runs `fn` over `items`, at most `n` at once. */
async function pool<T, R>(items: T[], n: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  }));
  return out;
}

/** `account`: validated by the caller (the admin route's account rule), or undefined for the whole gateway. */
export async function statsFor(c: Context<AppEnv>, account?: string) {
  const q = parse(statsQuery, c.req.query());
  const to = q.to ?? Math.floor(Date.now() / 1000);
  const from = q.from ?? to - 30 * DAY;
  if (from > to) throw badRequest('from', "'from' must not be after 'to'");
  if (to - from > MAX_RANGE) throw badRequest('from', "'from' and 'to' must be at most 400 days apart");
  const group = q.group ?? 'day';
  const ledger = c.get('ledger');
  const accounts = account ? [account] : await allAccounts(ledger);
  // Samples this isolate still holds for these accounts are written first (an operator call may cost a write).
  const now = Date.now();
  const wanted = new Set(accounts);
  await Promise.all(
    pendingAccounts()
      .filter((a) => wanted.has(a))
      .map((a) => {
        const samples = takeSamples(a, now, true);
        return samples ? ledger.admit({ account: a, keyId: 'system:stats', rpm: 1_000_000, now, samples }).catch(() => {}) : undefined;
      }),
  );
  const [fromMs, toMs] = [from * 1000, to * 1000 + 999];
  const data = await pool(accounts, 6, async (a): Promise<AccountData> => {
    const [usage, activity, audit] = await Promise.all([ledger.usage(a, fromMs, toMs, USAGE_PAGE), ledger.activity(a, fromMs, toMs), ledger.auditLog(a, fromMs, toMs, USAGE_PAGE)]);
    return { account: a, usage, activity, audit };
  });
  const { rows, total } = aggregate(data, group);
  const truncated = data.some((d) => d.usage.length >= USAGE_PAGE || d.audit.length >= USAGE_PAGE);
  return c.json({ object: 'stats', from, to, group, account: account ?? null, accounts: accounts.length, data: rows, total, ...(truncated && { truncated: true }) });
}
