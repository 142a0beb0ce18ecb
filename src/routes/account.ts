import { Hono } from 'hono/tiny';
import type { AppEnv } from '../app-env';

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
  });
});
