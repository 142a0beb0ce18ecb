// Per-key budgets (issue 21): a key may spend at most `micro` per UTC day, per UTC month or in total. Each key and
// period has one spend counter in its account's store, checked and moved in the same atomic admit as the balance
// (no extra round trip): charges and holds count, refunds and released holds give back.
import type { BudgetCheck, BudgetPeriod, KeyBudget } from './types';

const DAY_MS = 86_400_000;

export const BUDGET_PERIODS = ['day', 'month', 'total'] as const satisfies readonly BudgetPeriod[];

/** The period containing `now` (ms, UTC): when it started and when it ends (`total`: never). */
export function periodOf(period: BudgetPeriod, now: number): { start: number; end: number | null } {
  if (period === 'total') return { start: 0, end: null };
  if (period === 'day') {
    const start = Math.floor(now / DAY_MS) * DAY_MS;
    return { start, end: start + DAY_MS };
  }
  const d = new Date(now);
  return { start: Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1), end: Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) };
}

/**
 * The check for `keyId`'s budget in the period containing `now`: its counter (one per key and period) and limit.
 * A counter is kept a day past its period, so a video held just before the end still settles into it.
 */
export function budgetCheck(keyId: string, budget: KeyBudget, now: number): BudgetCheck {
  const { start, end } = periodOf(budget.period, now);
  return { id: `${keyId}:${budget.period}:${start}`, limit: budget.micro, until: end === null ? 0 : end + DAY_MS };
}
