import { Hono } from 'hono/tiny';
import * as z from 'zod/mini';
import type { AppEnv } from '../app-env';
import { forgetKeys, requireAdmin } from '../http/auth';
import { randomId, sha256Hex } from '../http/crypto';
import { notFound } from '../http/errors';
import { parse, readJson } from '../http/validate';

const accountName = z.string().check(z.regex(/^[A-Za-z0-9_.-]{1,64}$/, 'use 1-64 letters, digits, _ . -'));
const micro = z.int().check(z.gte(0), z.lte(1e12));

const issueBody = z.object({
  tier: z.enum(['paid', 'test']),
  account: z.optional(accountName),
  credits_micro: z.optional(micro),
  rpm: z.optional(z.int().check(z.gte(1), z.lte(100_000))),
});

const creditBody = z.object({ amount_micro: micro.check(z.gte(1)) });

/** Default per-key limit for operator-issued keys (requests per minute). */
export const DEFAULT_RPM = 60;

export const admin = new Hono<AppEnv>()
  .use(async (c, next) => {
    await requireAdmin(c.req.header('authorization'), c.get('cfg'));
    await next();
  })
  .post('/keys', async (c) => {
    const body = parse(issueBody, await readJson(c.req.raw));
    const key = `phi_${randomId(32)}`;
    const rec = {
      keyId: `key_${randomId(12)}`,
      account: body.account ?? `acct_${randomId(12)}`,
      tier: body.tier,
      rpm: body.rpm ?? DEFAULT_RPM,
    };
    await c.get('ledger').issueKey(await sha256Hex(key), rec, body.credits_micro ?? 0);
    return c.json({ key, key_id: rec.keyId, account: rec.account, tier: rec.tier, rpm: rec.rpm }, 201);
  })
  .delete('/keys/:keyId', async (c) => {
    if (!(await c.get('ledger').revokeKey(c.req.param('keyId')))) throw notFound('No such key');
    forgetKeys();
    return c.json({ key_id: c.req.param('keyId'), revoked: true });
  })
  .post('/accounts/:account/credits', async (c) => {
    const { account } = parse(z.object({ account: accountName }), { account: c.req.param('account') });
    const { amount_micro } = parse(creditBody, await readJson(c.req.raw));
    const balance = await c.get('ledger').credit(account, amount_micro);
    return c.json({ account, balance_micro: balance });
  })
  .get('/accounts/:account', async (c) => {
    const view = await c.get('ledger').account(c.req.param('account'), Date.now());
    if (!view) throw notFound('No such account');
    return c.json({ ...view, available_micro: view.balance_micro - view.held_micro });
  });
