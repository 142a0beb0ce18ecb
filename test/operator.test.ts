// The operator API (issue 13.1): accounts listed with their money, an account's keys with label, creation, last use,
// expiry and revocation, idempotent revoke, signed adjustments with a reason.
import fc from 'fast-check';
import { describe, expect, inject, it } from 'vitest';
import { eventually, gateway, uniq } from './helpers';

describe('operator API', () => {
  it("issue with a label → the account's keys list it → used → revoked twice (same answer) → listed as revoked", async () => {
    const gw = gateway({ MEDIA: undefined });
    const account = uniq('ops');
    const res = await gw.admin('/admin/keys', { method: 'POST', body: JSON.stringify({ tier: 'paid', account, credits_micro: 100_000, label: 'billing backend' }) });
    expect(res.status).toBe(201);
    const issued = (await res.json()) as { key: string; key_id: string; label: string; created_at: number; expires_at: null };
    expect(issued).toMatchObject({ label: 'billing backend', expires_at: null });
    expect((await gw.authed(issued.key, '/v1/images/generations', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: uniq('used') }) })).status).toBe(200);
    const list = (await (await gw.admin(`/admin/accounts/${account}/keys`)).json()) as { data: Record<string, unknown>[] };
    expect(list.data).toEqual([
      {
        key_id: issued.key_id, label: 'billing backend', tier: 'paid', rpm: 60, created_at: issued.created_at, last_used_at: expect.any(Number), expires_at: null, revoked_at: null,
        budget_micro: null, budget_period: null, budget_spent_micro: null, budget_held_micro: null, budget_resets_at: null,
      },
    ]);
    for (let i = 0; i < 2; i++) {
      const del = await gw.admin(`/admin/keys/${issued.key_id}`, { method: 'DELETE' });
      expect(del.status).toBe(200);
      expect(await del.json()).toEqual({ key_id: issued.key_id, revoked: true });
    }
    expect((await gw.admin('/admin/keys/key_nope', { method: 'DELETE' })).status).toBe(404);
    expect((await gw.authed(issued.key, '/v1/account')).status).toBe(401);
    const after = (await (await gw.admin(`/admin/accounts/${account}/keys`)).json()) as { data: { revoked_at: number | null }[] };
    expect(after.data[0]!.revoked_at).toBeGreaterThanOrEqual(issued.created_at);
  });

  it('a key with expires_at stops authenticating then; a past expiry is refused at issue', async () => {
    const gw = gateway();
    // Seconds ahead enough that a busy machine still authenticates the key once before it expires; then the test
    // waits for the expiry itself (state), not for a fixed sleep.
    const soon = Math.floor(Date.now() / 1000) + 4;
    const res = await gw.admin('/admin/keys', { method: 'POST', body: JSON.stringify({ tier: 'paid', expires_at: soon }) });
    const { key } = (await res.json()) as { key: string };
    expect((await gw.authed(key, '/v1/account')).status).toBe(200);
    await eventually(async () => {
      const expired = await gw.authed(key, '/v1/account');
      expect(expired.status).toBe(401);
      expect(((await expired.json()) as { error: { message: string } }).error.message).toContain('expired');
    });
    const past = await gw.admin('/admin/keys', { method: 'POST', body: JSON.stringify({ tier: 'paid', expires_at: 1_000 }) });
    expect(past.status).toBe(400);
    expect(((await past.json()) as { error: { param: string } }).error.param).toBe('expires_at');
  });

  it('adjustments: a refund credits, a correction debits, never below zero available; reasons are in the usage', async () => {
    const gw = gateway();
    const { account } = await gw.issueKey({ credits_micro: 100_000 });
    const adjust = (body: unknown) => gw.admin(`/admin/accounts/${account}/adjustments`, { method: 'POST', body: JSON.stringify(body) });
    const refund = await adjust({ amount_micro: 33_000, reason: 'refund: blurry render' });
    expect(refund.status).toBe(201);
    expect(await refund.json()).toMatchObject({ account, amount_micro: 33_000, balance_micro: 133_000 });
    expect(await (await adjust({ amount_micro: -33_000, reason: 'correction' })).json()).toMatchObject({ balance_micro: 100_000 });
    const over = await adjust({ amount_micro: -100_001, reason: 'too much' });
    expect(over.status).toBe(400);
    expect(((await over.json()) as { error: { param: string; message: string } }).error).toMatchObject({ param: 'amount_micro', message: expect.stringContaining('available 100000') });
    for (const bad of [{ amount_micro: 0, reason: 'x' }, { amount_micro: 1.5, reason: 'x' }, { amount_micro: 5 }, { amount_micro: 5, reason: '' }]) {
      expect((await adjust(bad)).status, JSON.stringify(bad)).toBe(400);
    }
    expect((await gw.admin(`/admin/accounts/${uniq('nobody')}/adjustments`, { method: 'POST', body: JSON.stringify({ amount_micro: 5, reason: 'x' }) })).status).toBe(404);
    expect((await gw.admin('/admin/accounts/test/adjustments', { method: 'POST', body: JSON.stringify({ amount_micro: 5, reason: 'x' }) })).status).toBe(400);
    const view = (await (await gw.admin(`/admin/accounts/${account}`)).json()) as { balance_micro: number; usage: { type: string; reason: string }[] };
    expect(view.balance_micro).toBe(100_000);
    expect(view.usage.filter((u) => u.type === 'adjustment').map((u) => u.reason)).toEqual(expect.arrayContaining(['refund: blurry render', 'correction']));
  });

  it('GET /admin/accounts pages through every account once, in name order, with balance, held and spent', async () => {
    const gw = gateway();
    const prefix = uniq('list');
    for (const n of ['a', 'b', 'c']) await gw.issueKey({ account: `${prefix}-${n}`, credits_micro: 1_000 });
    const seen: { account: string; balance_micro: number; held_micro: number; spent_micro: number; available_micro: number }[] = [];
    let after = '';
    for (let i = 0; i < 200; i++) {
      const page = (await (await gw.admin(`/admin/accounts?limit=2${after ? `&after=${after}` : ''}`)).json()) as { data: typeof seen; last: string; has_more: boolean };
      expect(page.data.length).toBeLessThanOrEqual(2);
      seen.push(...page.data);
      if (!page.has_more) break;
      after = page.last;
    }
    const ours = seen.filter((a) => a.account.startsWith(prefix));
    expect(ours).toEqual(['a', 'b', 'c'].map((n) => ({ account: `${prefix}-${n}`, shared: false, balance_micro: 1_000, held_micro: 0, available_micro: 1_000, spent_micro: 0, charges: 0, last_used_at: null })));
    // The shared test key's account is listed once, in its place, marked.
    expect(seen.filter((a) => a.account === 'test')).toEqual([expect.objectContaining({ shared: true })]);
    expect(new Set(seen.map((a) => a.account)).size).toBe(seen.length);
    expect((await gw.admin('/admin/accounts?limit=101')).status).toBe(400);
    expect((await gw.fetch('/admin/accounts')).status).toBe(401);
  });
});

describe('operator, usage and audit routes under arbitrary input (property)', () => {
  it('any body or query: a 2xx or a 4xx in the envelope naming the field, never a 5xx; a refused adjustment moves nothing', async () => {
    const { seed, runs } = inject('fuzz');
    const gw = gateway();
    const { key, account } = await gw.issueKey({ credits_micro: 10_000 });
    const value = fc.oneof(fc.string({ maxLength: 20 }), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(fc.integer(), { maxLength: 2 }));
    const body = fc.oneof(
      fc.dictionary(fc.constantFrom('tier', 'account', 'credits_micro', 'rpm', 'label', 'expires_at', 'amount_micro', 'reason', 'url', 'create'), value, { maxKeys: 5 }),
      fc.string({ maxLength: 40 }),
      fc.json(),
    );
    const query = fc.dictionary(fc.constantFrom('from', 'to', 'after', 'limit'), fc.oneof(fc.string({ maxLength: 12 }), fc.integer().map(String)), { maxKeys: 3 });
    const target = fc.constantFrom(
      ['POST', '/admin/keys'],
      ['POST', `/admin/accounts/${account}/adjustments`],
      ['POST', `/admin/accounts/${account}/credits`],
      ['PUT', `/admin/accounts/${account}/webhook`],
      ['GET', '/admin/accounts'],
      ['GET', `/admin/accounts/${account}/usage`],
      ['GET', `/admin/accounts/${account}/audit`],
      ['GET', '/v1/usage'],
    );
    await fc.assert(
      fc.asyncProperty(target, body, query, async ([method, path], b, q) => {
        const before = (await gw.balance(account)).balance_micro;
        const url = `${path}?${new URLSearchParams(q as Record<string, string>)}`;
        const auth = path.startsWith('/v1/') ? `Bearer ${key}` : 'Bearer test-admin-token';
        const res = await gw.fetch(url, { method, headers: { authorization: auth, 'content-type': 'application/json' }, ...(method === 'GET' ? {} : { body: typeof b === 'string' ? b : JSON.stringify(b) }) });
        expect(res.status, `${method} ${url}`).toBeLessThan(500);
        expect(res.headers.get('x-request-id')).toMatch(/^req_/);
        if (res.status >= 400) {
          const { error } = (await res.json()) as { error: { code: string; message: string; type: string } };
          expect(error.message.length).toBeGreaterThan(0);
          expect(error.code).toBeTruthy();
          if (path.endsWith('/adjustments') || path.endsWith('/credits')) expect((await gw.balance(account)).balance_micro).toBe(before);
        } else await res.body?.cancel();
      }),
      { seed, numRuns: Math.min(runs, 120), endOnFailure: true },
    );
  });
});
