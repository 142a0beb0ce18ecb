// /admin key handlers: issue, change, revoke, list an account's keys; their body schemas and the operator's view of a key.
import type { Context } from 'hono';
import * as z from 'zod/mini';
import type { AppEnv } from '../app-env';
import { forgetKeys, TEST_KEY } from '../http/auth';
import { randomHex, randomId, sha256Hex } from '../http/crypto';
import { badRequest, notFound } from '../http/errors';
import { intIn, oneOf, parse, readJson } from '../http/validate';
import { BUDGET_PERIODS, periodOf } from '../ledger/budget';
import type { KeyBudget, KeyInfo, KeyPatch } from '../ledger/types';
import { accountName, accountParam, reserved } from './admin-common';

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

/** Default per-key limit for operator-issued keys (requests per minute). */
export const DEFAULT_RPM = 60;

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

// POST /admin/keys
export async function issueKey(c: Context<AppEnv>) {
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
}

// PATCH /admin/keys/:keyId
// Label, expiry, rate and budget of a live key; effective within the key cache (5 s) everywhere, at once here.
export async function patchKey(c: Context<AppEnv, '/keys/:keyId'>) {
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
}

// DELETE /admin/keys/:keyId
// Idempotent: revoking a revoked key answers the same; an unknown key is a 404.
export async function revokeKey(c: Context<AppEnv, '/keys/:keyId'>) {
  const owner = await c.get('ledger').revokeKey(c.req.param('keyId'), Date.now());
  if (!owner) throw notFound('No such key');
  c.set('auditAccount', owner);
  forgetKeys();
  return c.json({ key_id: c.req.param('keyId'), revoked: true });
}

// GET /admin/accounts/:account/keys
export async function accountKeys(c: Context<AppEnv>) {
  const account = accountParam(c.req.param('account'));
  const keys = await c.get('ledger').listKeys(account);
  const now = Date.now();
  const data = keys.map((k) => keyView(k, now));
  return c.json({ object: 'list', account, shared: account === TEST_KEY.account, data });
}
