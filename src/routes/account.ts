import { Hono } from 'hono/tiny';
import type { AppEnv } from '../app-env';
import { notFound } from '../http/errors';
import { TEST_KEY } from '../http/auth';
import { usageFor } from './usage';
import { residency } from '../config';
import { budgetCheck, periodOf } from '../ledger/budget';

export const account = new Hono<AppEnv>().get('/account', async (c) => {
  const key = c.get('key');
  const now = Date.now();
  // The key's budget (if any): its current period's counter is read in the same ledger call as the balance.
  const check = key.budget ? budgetCheck(key.keyId, key.budget, now) : undefined;
  const view = await c.get('ledger').account(key.account, now, check?.id);
  const balance = view?.balance_micro ?? 0;
  const held = view?.held_micro ?? 0;
  let budget = null;
  if (key.budget) {
    const used = view?.counter ?? { charged: 0, held: 0 };
    const end = periodOf(key.budget.period, now).end;
    budget = {
      budget_micro: key.budget.micro,
      budget_period: key.budget.period,
      spent_micro: used.charged,
      held_micro: used.held,
      remaining_micro: Math.max(0, key.budget.micro - used.charged - used.held),
      resets_at: end === null ? null : end / 1000,
    };
  }
  return c.json({
    account: key.account,
    tier: key.tier,
    key_id: key.keyId,
    balance_micro: balance,
    held_micro: held,
    available_micro: balance - held,
    rate_limit: { rpm: key.rpm },
    budget,
    residency: residency(c.get('cfg')),
  });
}).get('/usage', async (c) => {
  const key = c.get('key');
  // The shared test key's account is everyone's: its usage is for the operator only.
  if (key.account === TEST_KEY.account) throw notFound('Usage is not available for the shared test key');
  return usageFor(c, key.account);
});
