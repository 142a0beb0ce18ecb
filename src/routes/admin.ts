import { Hono } from 'hono/tiny';
import * as z from 'zod/mini';
import type { AppEnv } from '../app-env';
import { forgetKeys, requireAdmin } from '../http/auth';
import { TEST_KEY } from '../http/auth';
import { randomHex, randomId, sha256Hex } from '../http/crypto';
import { badRequest, notFound } from '../http/errors';
import { bool, intIn, oneOf, parse, readJson } from '../http/validate';
import { customerUrl } from '../http/urls';
import { webhookSecret } from '../jobs/webhooks';

/** Account names: 1-64 of a-z 0-9 _ . - starting with a letter or digit (one spelling per account). */
const ACCOUNT = /^[a-z0-9][a-z0-9_.-]{0,63}$/;
const ACCOUNT_RULE = "must be 1-64 characters of a-z, 0-9, '_', '.', '-', starting with a letter or digit";
const accountName = z.string({ error: ACCOUNT_RULE }).check(z.regex(ACCOUNT, ACCOUNT_RULE));

const issueBody = z.object({
  tier: oneOf(['paid', 'test']),
  account: z.optional(accountName),
  credits_micro: z.optional(intIn(0, 1e12)),
  rpm: z.optional(intIn(1, 100_000)),
});

const webhookBody = z.object({ url: z.string({ error: 'must be a string' }).check(z.maxLength(2048, 'must be at most 2048 characters')) });

const creditBody = z.object({ amount_micro: intIn(1, 1e12), create: z.optional(bool()) });

/** The account named in the path: valid, and never the shared test key's (reserved) account. */
function accountParam(raw: string | undefined): string {
  const { account } = parse(z.object({ account: accountName }), { account: raw });
  return account;
}

const reserved = () => badRequest('account', `Account '${TEST_KEY.account}' is reserved for the shared test key`);

/** Default per-key limit for operator-issued keys (requests per minute). */
export const DEFAULT_RPM = 60;

export const admin = new Hono<AppEnv>()
  .use(async (c, next) => {
    await requireAdmin(c.req.header('authorization'), c.get('cfg'));
    await next();
  })
  .post('/keys', async (c) => {
    const body = parse(issueBody, await readJson(c.req.raw));
    if (body.account === TEST_KEY.account) throw reserved();
    const key = `phi_${randomId(32)}`;
    const rec = {
      keyId: `key_${randomId(12)}`,
      account: body.account ?? `acct_${randomHex(12)}`,
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
    const account = accountParam(c.req.param('account'));
    if (account === TEST_KEY.account) throw reserved();
    const { amount_micro, create } = parse(creditBody, await readJson(c.req.raw));
    const balance = await c.get('ledger').credit(account, amount_micro, create ?? false);
    if (balance === null) throw notFound(`No such account '${account}'; send "create": true to open it with these credits`);
    return c.json({ account, balance_micro: balance });
  })
  // The account's customer webhook endpoint; the signing secret is shown in this answer only (derived, not stored).
  .put('/accounts/:account/webhook', async (c) => {
    const account = accountParam(c.req.param('account'));
    if (account === TEST_KEY.account) throw reserved();
    const cfg = c.get('cfg');
    const { url } = parse(webhookBody, await readJson(c.req.raw));
    const rules = { insecure: cfg.ALLOW_INSECURE_URLS, ownHosts: [new URL(c.req.url).host, ...(cfg.workerHost ? [cfg.workerHost] : [])] };
    if (!customerUrl(url, rules)) throw badRequest('url', "'url' must be a public https URL (no IP addresses, internal names or gateway hosts)");
    const hook = { url, nonce: randomId(16), createdAt: Math.floor(Date.now() / 1000) };
    if (!(await c.get('ledger').setWebhook(account, hook))) throw notFound('No such account');
    return c.json({ account, url, secret: await webhookSecret(cfg, account, hook.nonce), events: ['video.completed', 'video.failed'] });
  })
  .delete('/accounts/:account/webhook', async (c) => {
    const account = accountParam(c.req.param('account'));
    if (!(await c.get('ledger').setWebhook(account, null))) throw notFound('No such account');
    return c.json({ account, url: null, deleted: true });
  })
  .get('/accounts/:account', async (c) => {
    const view = await c.get('ledger').account(accountParam(c.req.param('account')), Date.now());
    if (!view) throw notFound('No such account');
    return c.json({ ...view, available_micro: view.balance_micro - view.held_micro });
  });
