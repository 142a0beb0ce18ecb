import { Hono } from 'hono/tiny';
import * as z from 'zod/mini';
import type { AppEnv } from '../app-env';
import { forgetKeys, requireAdmin } from '../http/auth';
import { TEST_KEY } from '../http/auth';
import { randomHex, randomId, sha256Hex } from '../http/crypto';
import { ApiError, badRequest, notFound } from '../http/errors';
import { bool, intIn, intLike as intLikeIn, oneOf, parse, readJson } from '../http/validate';
import { customerUrl } from '../http/urls';
import { webhookSecret } from '../jobs/webhooks';
import { auditFor, usageFor } from './usage';
import { audit } from '../audit/trail';
import { route } from '../http/log';
import { usageLines } from '../pipeline/usage';
import { execOf } from '../pipeline/context';
import { DurableLedger, UNRESTRICTED } from '../ledger/durable';
import type { Config } from '../config';
import { mediaPrefixes } from '../media/deliver';
import { legacyVideoKey } from '../pipeline/videos';
import { BUDGET_PERIODS, budgetCheck, periodOf } from '../ledger/budget';
import type { KeyBudget, KeyInfo, KeyPatch } from '../ledger/types';
import { statsFor } from './stats';

/** Account names: 1-64 of a-z 0-9 _ . - starting with a letter or digit (one spelling per account). */
const ACCOUNT = /^[a-z0-9][a-z0-9_.-]{0,63}$/;
const ACCOUNT_RULE = "must be 1-64 characters of a-z, 0-9, '_', '.', '-', starting with a letter or digit";
const accountName = z.string({ error: ACCOUNT_RULE }).check(z.regex(ACCOUNT, ACCOUNT_RULE));

export const issueBody = z.object({
  tier: oneOf(['paid', 'test']),
  account: z.optional(accountName),
  credits_micro: z.optional(intIn(0, 1e12)),
  rpm: z.optional(intIn(1, 100_000)),
  label: z.optional(z.string({ error: 'must be a string' }).check(z.trim(), z.minLength(1, 'must not be empty'), z.maxLength(64, 'must be at most 64 characters'))),
  expires_at: z.optional(intIn(1, 2 ** 32)),
  budget_micro: z.optional(intIn(0, 1e12)),
  budget_period: z.optional(oneOf(BUDGET_PERIODS)),
});

/** PATCH /admin/keys/{keyId}: what is sent changes (null removes a label, an expiry or the budget). */
export const patchKeyBody = z.object({
  label: z.optional(z.nullable(z.string({ error: 'must be a string' }).check(z.trim(), z.minLength(1, 'must not be empty'), z.maxLength(64, 'must be at most 64 characters')))),
  expires_at: z.optional(z.nullable(intIn(1, 2 ** 32))),
  rpm: z.optional(intIn(1, 100_000)),
  budget_micro: z.optional(z.nullable(intIn(0, 1e12))),
  budget_period: z.optional(oneOf(BUDGET_PERIODS)),
});

/** A budget is its amount and its period, both named (a budget of 0 allows nothing priced). */
function budgetFrom(micro: number | null | undefined, period: KeyBudget['period'] | undefined): KeyBudget | null | undefined {
  if (micro === undefined) {
    if (period !== undefined) throw badRequest('budget_micro', "'budget_micro' is required with 'budget_period'");
    return undefined;
  }
  if (micro === null) return null;
  if (period === undefined) throw badRequest('budget_period', `'budget_period' is required with 'budget_micro' (one of ${BUDGET_PERIODS.join(', ')})`);
  return { micro, period };
}

/** A future expiry in unix seconds, or a 400 naming it. */
function futureExpiry(at: number | null | undefined, now: number): void {
  if (at !== undefined && at !== null && at <= now) throw badRequest('expires_at', "'expires_at' must be a future time in unix seconds");
}

export const adjustBody = z.object({
  amount_micro: intIn(-1e12, 1e12),
  reason: z.string({ error: 'must be a string' }).check(z.trim(), z.minLength(1, 'must not be empty'), z.maxLength(200, 'must be at most 200 characters')),
});

export const pageQuery = z.object({ after: z.optional(accountName), limit: z.optional(intLikeIn(1, 100)) });

export const webhookBody = z.object({ url: z.string({ error: 'must be a string' }).check(z.maxLength(2048, 'must be at most 2048 characters')) });

export const phiScanBody = z.object({ mode: z.nullable(oneOf(['block', 'off'])) });

export const residencyBody = z.object({ from: oneOf(['unrestricted', 'eu', 'us', 'fedramp', 'fedramp-high']) });

export const eraseQuery = z.object({ force: z.optional(oneOf(['true', 'false'])) });

export const creditBody = z.object({ amount_micro: intIn(1, 1e12), create: z.optional(bool()) });

/** The account named in the path: valid, and never the shared test key's (reserved) account. */
function accountParam(raw: string | undefined): string {
  const { account } = parse(z.object({ account: accountName }), { account: raw });
  return account;
}

const ACCOUNT_PATH = /^\/admin\/accounts\/([^/]+)/;

const reserved = () => badRequest('account', `Account '${TEST_KEY.account}' is reserved for the shared test key`);

/** Default per-key limit for operator-issued keys (requests per minute). */
export const DEFAULT_RPM = 60;

/**
 * Operator reads of an account's data are recorded as `operator.read` — at most once per account, route and minute
 * in an isolate (the console's page loads must not drown the trail); changes as `operator`, every time.
 */
const lastReads = new Map<string, number>();
const READ_EVERY_MS = 60_000;

function firstReadThisMinute(account: string, action: string, now: number): boolean {
  const k = `${account}\n${action}`;
  if ((lastReads.get(k) ?? -Infinity) > now - READ_EVERY_MS) return false;
  if (lastReads.size > 10_000) lastReads.clear();
  lastReads.set(k, now);
  return true;
}

/** A key as the operator sees it: its budget with what the current period has used, and when that resets. */
function keyView(k: KeyInfo, now: number) {
  const budget = k.budget;
  const used = k.budgetUsed ?? { charged: 0, held: 0 };
  const end = budget ? periodOf(budget.period, now).end : null;
  return {
    key_id: k.keyId, label: k.label, tier: k.tier, rpm: k.rpm, created_at: k.createdAt, last_used_at: k.lastUsedAt, expires_at: k.expiresAt, revoked_at: k.revokedAt,
    budget_micro: budget?.micro ?? null,
    budget_period: budget?.period ?? null,
    budget_spent_micro: budget ? used.charged : null,
    budget_held_micro: budget ? used.held : null,
    budget_resets_at: end === null ? null : end / 1000,
  };
}

export const admin = new Hono<AppEnv>()
  .use(async (c, next) => {
    await requireAdmin(c.req.header('authorization'), c.get('cfg'));
    await next();
    // Every operator action on an account is in its audit trail (listing all accounts is not one account's).
    const account = c.get('auditAccount') ?? ACCOUNT_PATH.exec(c.req.path)?.[1];
    if (account && ACCOUNT.test(account)) {
      const action = route(c);
      const read = c.req.method === 'GET';
      if (read && !firstReadThisMinute(account, action, Date.now())) return;
      await audit({ cfg: c.get('cfg'), ledger: c.get('ledger'), exec: execOf(c) }, account, {
        type: read ? 'operator.read' : 'operator',
        request_id: c.get('requestId'),
        detail: { action, status: c.res.status, ...(c.res.status < 300 ? c.get('auditDetail') : {}) },
      });
    }
  })
  .post('/keys', async (c) => {
    const body = parse(issueBody, await readJson(c.req.raw));
    if (body.account === TEST_KEY.account) throw reserved();
    const key = `phi_${randomId(32)}`;
    const now = Math.floor(Date.now() / 1000);
    futureExpiry(body.expires_at, now);
    const budget = budgetFrom(body.budget_micro, body.budget_period) ?? null;
    const rec = {
      keyId: `key_${randomId(12)}`,
      account: body.account ?? `acct_${randomHex(12)}`,
      tier: body.tier,
      rpm: body.rpm ?? DEFAULT_RPM,
      expiresAt: body.expires_at ?? null,
      ...(budget && { budget }),
    };
    const label = body.label ?? null;
    await c.get('ledger').issueKey(await sha256Hex(key), rec, body.credits_micro ?? 0, { label, createdAt: now });
    c.set('auditAccount', rec.account);
    c.set('auditDetail', { key_id: rec.keyId, amount_micro: body.credits_micro ?? 0, budget_micro: budget?.micro ?? null, budget_period: budget?.period ?? null });
    return c.json(
      { key, key_id: rec.keyId, account: rec.account, tier: rec.tier, rpm: rec.rpm, label, created_at: now, expires_at: rec.expiresAt, budget_micro: budget?.micro ?? null, budget_period: budget?.period ?? null },
      201,
    );
  })
  // Label, expiry, rate and budget of a live key; effective within the key cache (5 s) everywhere, at once here.
  .patch('/keys/:keyId', async (c) => {
    const keyId = c.req.param('keyId');
    const body = parse(patchKeyBody, await readJson(c.req.raw));
    futureExpiry(body.expires_at, Math.floor(Date.now() / 1000));
    const patch: KeyPatch = {};
    if (body.label !== undefined) patch.label = body.label;
    if (body.expires_at !== undefined) patch.expiresAt = body.expires_at;
    if (body.rpm !== undefined) patch.rpm = body.rpm;
    const budget = budgetFrom(body.budget_micro, body.budget_period);
    if (budget !== undefined) patch.budget = budget;
    if (!Object.keys(patch).length) throw badRequest(null, 'Send at least one of label, expires_at, rpm, budget_micro (with budget_period)');
    const ledger = c.get('ledger');
    const r = await ledger.updateKey(keyId, patch);
    if (!r) throw notFound('No such key');
    c.set('auditAccount', r.account);
    if (r.revoked) throw badRequest('keyId', `Key '${keyId}' is revoked: it cannot be changed`);
    forgetKeys();
    c.set('auditDetail', {
      key_id: keyId,
      ...(patch.rpm !== undefined && { rpm: patch.rpm }),
      ...(patch.expiresAt !== undefined && { expires_at: patch.expiresAt }),
      ...(patch.label !== undefined && { label_changed: true }),
      ...(patch.budget !== undefined && { budget_micro: patch.budget?.micro ?? null, budget_period: patch.budget?.period ?? null }),
    });
    const now = Date.now();
    const listed = (await ledger.listKeys(r.account)).find((k) => k.keyId === keyId);
    return c.json({ account: r.account, ...(listed ? keyView(listed, now) : { key_id: keyId }) });
  })
  // Idempotent: revoking a revoked key answers the same; an unknown key is a 404.
  .delete('/keys/:keyId', async (c) => {
    const owner = await c.get('ledger').revokeKey(c.req.param('keyId'), Date.now());
    if (!owner) throw notFound('No such key');
    c.set('auditAccount', owner);
    forgetKeys();
    return c.json({ key_id: c.req.param('keyId'), revoked: true });
  })
  // Accounts in name order with their money; `after` is the last account of the previous page. The shared test
  // key's account (`test`, not in the key directory) is listed in its place when TEST_API_KEY is set, `shared: true`.
  .get('/accounts', async (c) => {
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
  })
  // Requests, outcomes, refusals by code, spend and upstream latency, grouped by day, model, account or key.
  .get('/stats', (c) => {
    const account = c.req.query('account');
    if (account === undefined) return statsFor(c);
    c.set('auditAccount', accountParam(account)); // one account's data: an operator read of it
    return statsFor(c, accountParam(account));
  })
  // Includes the shared test account (`test`): the free tier's usage, at $0.
  .get('/accounts/:account/usage', (c) => usageFor(c, accountParam(c.req.param('account'))))
  // JSON Lines over a time range: operator actions, generations, media issued/downloaded, webhooks sent.
  .get('/accounts/:account/audit', (c) => auditFor(c, accountParam(c.req.param('account'))))
  .get('/accounts/:account/keys', async (c) => {
    const account = accountParam(c.req.param('account'));
    const keys = await c.get('ledger').listKeys(account);
    const now = Date.now();
    const data = keys.map((k) => keyView(k, now));
    return c.json({ object: 'list', account, shared: account === TEST_KEY.account, data });
  })
  // A signed correction (a refund when positive), with its reason in the account's usage; never below zero available.
  .post('/accounts/:account/adjustments', async (c) => {
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
  })
  .post('/accounts/:account/credits', async (c) => {
    const account = accountParam(c.req.param('account'));
    if (account === TEST_KEY.account) throw reserved();
    const { amount_micro, create } = parse(creditBody, await readJson(c.req.raw));
    const balance = await c.get('ledger').credit(account, amount_micro, create ?? false);
    if (balance === null) throw notFound(`No such account '${account}'; send "create": true to open it with these credits`);
    c.set('auditDetail', { amount_micro, balance_micro: balance });
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
    const ledger = c.get('ledger');
    const rotated = (await ledger.getWebhook(account)) !== null;
    if (!(await ledger.setWebhook(account, hook))) throw notFound('No such account');
    c.set('auditDetail', { replaced: rotated });
    return c.json({ account, url, secret: await webhookSecret(cfg, account, hook.nonce), events: ['video.completed', 'video.failed'], created_at: hook.createdAt });
  })
  // The endpoint (never its secret) and its last delivery attempt, from the audit trail (the last 30 days).
  .get('/accounts/:account/webhook', async (c) => {
    const account = accountParam(c.req.param('account'));
    const ledger = c.get('ledger');
    const now = Date.now();
    const [hook, trail] = await Promise.all([ledger.getWebhook(account), ledger.auditLog(account, now - 30 * 86_400_000, now, 10_000)]);
    const last = trail.findLast((e) => e.type === 'webhook.sent');
    return c.json({
      account,
      url: hook?.url ?? null,
      created_at: hook?.createdAt ?? null,
      last_delivery: last ? { at: Math.floor(last.at / 1000), event_id: last.detail.event_id ?? null, event_type: last.detail.event_type ?? null, attempt: last.detail.attempt ?? null, status: last.detail.status ?? null } : null,
    });
  })
  .delete('/accounts/:account/webhook', async (c) => {
    const account = accountParam(c.req.param('account'));
    if (!(await c.get('ledger').setWebhook(account, null))) throw notFound('No such account');
    return c.json({ account, url: null, deleted: true });
  })
  // Per-account PHI screening override (audited as an operator action): `off` for a customer whose reviewed content
  // keeps matching, `block` to screen even when PHI_SCAN is off, null to follow PHI_SCAN. Effective within 5 s.
  .put('/accounts/:account/phi-scan', async (c) => {
    const account = accountParam(c.req.param('account'));
    if (account === TEST_KEY.account) throw reserved();
    const { mode } = parse(phiScanBody, await readJson(c.req.raw));
    if (!(await c.get('ledger').setPhiScan(account, mode))) throw notFound('No such account');
    forgetKeys();
    const cfg = c.get('cfg');
    await audit({ cfg, ledger: c.get('ledger'), exec: execOf(c) }, account, { type: 'phi.policy', request_id: c.get('requestId'), detail: { mode, effective: mode ?? cfg.PHI_SCAN } });
    return c.json({ account, phi_scan: mode, effective: mode ?? cfg.PHI_SCAN });
  })
  // Data residency migration (README "Data residency"): re-points the residency anchor after the operator moved
  // the ledger's contents to the jurisdiction DATA_JURISDICTION now names. Durable Object ledger only.
  .post('/residency', async (c) => {
    const cfg = c.get('cfg');
    if (cfg.upstash) throw badRequest(null, "With Upstash the ledger's residency is the database's region; there is nothing to move here");
    const { from } = parse(residencyBody, await readJson(c.req.raw));
    const to = cfg.DATA_JURISDICTION ?? UNRESTRICTED;
    if (!(await new DurableLedger(c.env.LEDGER, cfg.DATA_JURISDICTION).moveResidency(from, to))) {
      throw badRequest('from', `The ledger's residency is not '${from}'`);
    }
    return c.json({ residency: to, moved_from: from });
  })
  // Erase an account (issue 18): keys, money, usage, jobs, idempotency records, webhook, re-hosted media — all but
  // its audit trail, which keeps the tombstone. Refused while it holds money unless ?force=true. Idempotent.
  .delete('/accounts/:account', async (c) => {
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
  })
  .get('/accounts/:account', async (c) => {
    const view = await c.get('ledger').account(accountParam(c.req.param('account')), Date.now());
    if (!view) throw notFound('No such account');
    return c.json({ ...view, available_micro: view.balance_micro - view.held_micro, usage: usageLines(view.usage) });
  });

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
