import { Hono } from 'hono/tiny';
import type { AppEnv } from '../app-env';
import { notFound } from '../http/errors';
import { TEST_KEY } from '../http/auth';
import { usageFor } from './usage';
import { residency } from '../config';

export const account = new Hono<AppEnv>().get('/account', async (c) => {
  const key = c.get('key');
  const view = await c.get('ledger').account(key.account, Date.now());
  const balance = view?.balance_micro ?? 0;
  const held = view?.held_micro ?? 0;
  return c.json({
    account: key.account,
    tier: key.tier,
    balance_micro: balance,
    held_micro: held,
    available_micro: balance - held,
    rate_limit: { rpm: key.rpm },
    residency: residency(c.get('cfg')),
  });
}).get('/usage', async (c) => {
  const key = c.get('key');
  // The shared test key's account is everyone's: its usage is for the operator only.
  if (key.account === TEST_KEY.account) throw notFound('Usage is not available for the shared test key');
  return usageFor(c, key.account);
});
