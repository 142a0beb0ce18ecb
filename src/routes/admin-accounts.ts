// /admin account handlers: list, read, top up, adjust and erase accounts (with their re-hosted media); their schemas.
import type { Context } from 'hono';
import * as z from 'zod/mini';
import type { AppEnv } from '../app-env';
import { audit } from '../audit/trail';
import type { Config } from '../config';
import { forgetKeys, TEST_KEY } from '../http/auth';
import { randomId } from '../http/crypto';
import { ApiError, badRequest, notFound } from '../http/errors';
import { bool, intIn, intLike as intLikeIn, oneOf, parse, readJson } from '../http/validate';
import { mediaPrefixes } from '../media/deliver';
import { execOf } from '../pipeline/context';
import { usageLines } from '../pipeline/usage';
import { legacyVideoKey } from '../pipeline/videos';
import { accountName, accountParam, reserved } from './admin-common';

export const adjustBody = z.object({
  amount_micro: intIn(-1e12, 1e12),
  reason: z.string({ error: 'must be a string' }).check(z.trim(), z.minLength(1, 'must not be empty'), z.maxLength(200, 'must be at most 200 characters')),
});

export const pageQuery = z.object({ after: z.optional(accountName), limit: z.optional(intLikeIn(1, 100)) });

export const eraseQuery = z.object({ force: z.optional(oneOf(['true', 'false'])) });

export const creditBody = z.object({ amount_micro: intIn(1, 1e12), create: z.optional(bool()) });

// GET /admin/accounts
// Accounts in name order with their money; `after` is the last account of the previous page. The shared test
// key's account (`test`, not in the key directory) is listed in its place when TEST_API_KEY is set, `shared: true`.
export async function listAccounts(c: Context<AppEnv>) {
  const q = parse(pageQuery, c.req.query());
  const ledger = c.get('ledger');
  const limit = q.limit ?? 20;
  const after = q.after ?? null;
  const page = await ledger.listAccounts(after, limit);
  let names = page.accounts;
  let hasMore = page.hasMore;
  const shared = TEST_KEY.account;
  const listed = Boolean(c.get('cfg').TEST_API_KEY) && (after === null || after < shared) && !names.includes(shared);
  if (listed && (!hasMore || shared < names.at(-1)!)) {
    names = [...names, shared].sort();
    if (names.length > limit) {
      names = names.slice(0, limit);
      hasMore = true;
    }
  }
  const now = Date.now();
  const views = await Promise.all(names.map((a) => ledger.account(a, now)));
  const data = names.map((account, i) => {
    const v = views[i];
    return {
      account,
      shared: account === shared,
      balance_micro: v?.balance_micro ?? 0,
      held_micro: v?.held_micro ?? 0,
      available_micro: (v?.balance_micro ?? 0) - (v?.held_micro ?? 0),
      spent_micro: v?.spent_micro ?? 0,
      charges: v?.charges ?? 0,
      last_used_at: v?.last_used_at ?? null,
    };
  });
  return c.json({ object: 'list', data, last: names.at(-1) ?? null, has_more: hasMore });
}

// POST /admin/accounts/:account/adjustments
// A signed correction (a refund when positive), with its reason in the account's usage; never below zero available.
export async function adjust(c: Context<AppEnv>) {
  const account = accountParam(c.req.param('account'));
  if (account === TEST_KEY.account) throw reserved();
  const { amount_micro, reason } = parse(adjustBody, await readJson(c.req.raw));
  if (amount_micro === 0) throw badRequest('amount_micro', "'amount_micro' must not be 0");
  const id = `adj_${randomId(12)}`;
  const r = await c.get('ledger').adjust({ account, amount: amount_micro, reason, id, now: Date.now() });
  if (!r.ok && r.reason === 'no_account') throw notFound('No such account');
  if (!r.ok) throw badRequest('amount_micro', `The adjustment would take the available balance below zero (available ${r.availableMicro})`);
  c.set('auditDetail', { amount_micro, adjustment_id: id });
  return c.json({ id, account, amount_micro, reason, balance_micro: r.balance }, 201);
}

// POST /admin/accounts/:account/credits
export async function credit(c: Context<AppEnv>) {
  const account = accountParam(c.req.param('account'));
  if (account === TEST_KEY.account) throw reserved();
  const { amount_micro, create } = parse(creditBody, await readJson(c.req.raw));
  const balance = await c.get('ledger').credit(account, amount_micro, create ?? false);
  if (balance === null) throw notFound(`No such account '${account}'; send "create": true to open it with these credits`);
  c.set('auditDetail', { amount_micro, balance_micro: balance });
  return c.json({ account, balance_micro: balance });
}

// DELETE /admin/accounts/:account
// Erase an account (issue 18): keys, money, usage, jobs, idempotency records, webhook, re-hosted media — all but
// its audit trail, which keeps the tombstone. Refused while it holds money unless ?force=true. Idempotent.
export async function eraseAccount(c: Context<AppEnv>) {
  const account = accountParam(c.req.param('account'));
  if (account === TEST_KEY.account) throw reserved();
  const { force } = parse(eraseQuery, c.req.query());
  const cfg = c.get('cfg');
  const r = await c.get('ledger').eraseAccount({
    account,
    force: force === 'true',
    now: Date.now(),
    requestId: c.get('requestId') ?? null,
    auditRetentionMs: cfg.AUDIT_RETENTION_DAYS * 24 * 3600 * 1000,
  });
  if (!r.ok) {
    throw new ApiError(
      409,
      'account_not_empty',
      `Account '${account}' still holds money (balance ${r.balance} micro-USD, held ${r.held} micro-USD): erasing it forfeits both; send force=true to erase it anyway`,
      'force',
      { 'x-should-retry': 'false' },
    );
  }
  forgetKeys();
  let mediaDeleted: number;
  try {
    mediaDeleted = await eraseMedia(c.env.MEDIA, cfg, account, r.jobIds);
  } catch {
    throw new ApiError(503, 'store_unavailable', 'The account is erased from the ledger but its media could not all be deleted yet; send the same request again');
  }
  // The tombstone (account.erased, with the amounts) was written by the ledger with the erase itself.
  if (!r.already || mediaDeleted > 0) {
    await audit({ cfg, ledger: c.get('ledger'), exec: execOf(c) }, account, { type: 'media.erased', request_id: c.get('requestId'), detail: { count: mediaDeleted } });
  }
  return c.json({ account, erased: true, already_erased: r.already, forfeited_micro: r.balance, released_hold_micro: r.held, keys_deleted: r.keys, media_deleted: mediaDeleted });
}

// GET /admin/accounts/:account
export async function getAccount(c: Context<AppEnv>) {
  const view = await c.get('ledger').account(accountParam(c.req.param('account')), Date.now());
  if (!view) throw notFound('No such account');
  return c.json({ ...view, available_micro: view.balance_micro - view.held_micro, usage: usageLines(view.usage) });
}

/**
 * Deletes an account's re-hosted media: every object under its key prefixes (`i_<tag>_`, `v_<tag>_`), listed again
 * until none is left, plus its jobs' copies from before keys carried the tag. Returns how many objects were deleted.
 */
async function eraseMedia(bucket: R2Bucket | undefined, cfg: Config, account: string, jobIds: string[]): Promise<number> {
  if (!bucket) return 0;
  let deleted = 0;
  for (const prefix of await mediaPrefixes(cfg, account)) {
    for (let page = 0; page < 10_000; page++) {
      const listed = await bucket.list({ prefix, limit: 1000 });
      if (!listed.objects.length) break;
      await bucket.delete(listed.objects.map((o) => o.key));
      deleted += listed.objects.length;
    }
  }
  const legacy = await Promise.all(jobIds.map((id) => legacyVideoKey(cfg, id)));
  for (let i = 0; i < legacy.length; i += 100) {
    const batch = legacy.slice(i, i + 100);
    const present = (await Promise.all(batch.map((k) => bucket.head(k)))).filter((h): h is R2Object => h !== null).map((h) => h.key);
    if (present.length) await bucket.delete(present);
    deleted += present.length;
  }
  return deleted;
}
