// Per-key budgets over HTTP (issue 21): set at issue and by PATCH, enforced in the admit's own ledger call before any
// upstream call (402 budget_exceeded, distinct from the account's insufficient_quota), holds count like charges,
// refunds give back, exact under concurrency on both stores; /v1/account shows the budget, spent and resets_at.
import { describe, expect, inject, it } from 'vitest';
import { bodyText, falOrigin, gateway, requireService, standinCalls, uniq, type Gateway } from './helpers';

type Err = { error: { code: string; param: string | null; message: string; type: string } };
type AccountBody = { budget: { budget_micro: number; budget_period: string; spent_micro: number; held_micro: number; remaining_micro: number; resets_at: number | null } | null };

const image = (gw: Gateway, key: string, prompt = uniq('budget image')) =>
  gw.authed(key, '/v1/images/generations', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt }) });
const patch = (gw: Gateway, keyId: string, body: unknown) => gw.admin(`/admin/keys/${keyId}`, { method: 'PATCH', body: JSON.stringify(body) });
const issue = async (gw: Gateway, body: Record<string, unknown>) => {
  const res = await gw.admin('/admin/keys', { method: 'POST', body: JSON.stringify({ tier: 'paid', credits_micro: 10_000_000, rpm: 10_000, ...body }) });
  expect(res.status, await res.clone().text()).toBe(201);
  return (await res.json()) as { key: string; key_id: string; account: string; budget_micro: number | null; budget_period: string | null };
};

const upstashUrl = inject('upstashUrl');
requireService('Upstash stand-in (redis-server)', upstashUrl);
const stores: [string, () => Gateway][] = [
  ['durable object', () => gateway({ MEDIA: undefined })],
  ...(upstashUrl ? [['upstash', () => gateway({ MEDIA: undefined, UPSTASH_REDIS_REST_URL: upstashUrl, UPSTASH_REDIS_REST_TOKEN: inject('upstashToken') })] as [string, () => Gateway]] : []),
];

describe.each(stores)('per-key budgets: %s', (_name, make) => {
  it('a daily budget for 2 images: the 3rd is a 402 budget_exceeded before any upstream call; /v1/account shows it; a PATCH lifts it at once', async () => {
    const gw = make();
    const issued = await issue(gw, { budget_micro: 66_000 + 32_999, budget_period: 'day', label: 'team a' });
    expect(issued).toMatchObject({ budget_micro: 98_999, budget_period: 'day' });
    expect((await image(gw, issued.key)).status).toBe(200);
    expect((await image(gw, issued.key)).status).toBe(200);
    const prompt = uniq('over budget');
    const over = await image(gw, issued.key, prompt);
    expect(over.status).toBe(402);
    expect(over.headers.get('x-should-retry')).toBe('false');
    const { error } = (await over.json()) as Err;
    expect(error).toMatchObject({ code: 'budget_exceeded', type: 'insufficient_quota', param: null });
    expect(error.message).toContain('needs 33000 micro-USD, 32999 left');
    expect(error.message).toMatch(/resets at \d{4}-\d\d-\d\dT00:00:00\.000Z/);
    expect(await standinCalls(falOrigin(), (c) => JSON.stringify(c.body ?? '').includes(prompt))).toEqual([]);
    // The account's balance is untouched by the refusal; the key's budget is on /v1/account.
    expect((await gw.balance(issued.account)).balance_micro).toBe(10_000_000 - 66_000);
    const account = (await (await gw.authed(issued.key, '/v1/account')).json()) as AccountBody;
    const midnight = (Math.floor(Date.now() / 86_400_000) + 1) * 86_400;
    expect(account.budget).toEqual({ budget_micro: 98_999, budget_period: 'day', spent_micro: 66_000, held_micro: 0, remaining_micro: 32_999, resets_at: midnight });
    // The operator raises it: effective at once (the key cache of this isolate is dropped; elsewhere within 5 s).
    const raised = await patch(gw, issued.key_id, { budget_micro: 99_000, budget_period: 'day' });
    expect(raised.status).toBe(200);
    expect(await raised.json()).toMatchObject({ key_id: issued.key_id, budget_micro: 99_000, budget_period: 'day', budget_spent_micro: 66_000, budget_held_micro: 0, budget_resets_at: midnight });
    expect((await image(gw, issued.key)).status).toBe(200);
    expect((await image(gw, issued.key)).status).toBe(402);
    // Removed: only the balance limits the key.
    expect((await patch(gw, issued.key_id, { budget_micro: null })).status).toBe(200);
    expect((await image(gw, issued.key)).status).toBe(200);
    expect(((await (await gw.authed(issued.key, '/v1/account')).json()) as AccountBody).budget).toBeNull();
    // The keys list shows it all.
    const keys = (await (await gw.admin(`/admin/accounts/${issued.account}/keys`)).json()) as { data: Record<string, unknown>[] };
    expect(keys.data[0]).toMatchObject({ key_id: issued.key_id, label: 'team a', budget_micro: null, budget_period: null });
  });

  it('30 concurrent requests against a budget that covers 7 → exactly 7 served, 23 refused, 7 charged', async () => {
    const gw = make();
    const issued = await issue(gw, { budget_micro: 7 * 33_000, budget_period: 'month' });
    const results = await Promise.all(Array.from({ length: 30 }, () => image(gw, issued.key)));
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(7);
    expect(statuses.filter((s) => s === 402)).toHaveLength(23);
    for (const r of results.filter((x) => x.status === 402)) expect(((await r.json()) as Err).error.code).toBe('budget_exceeded');
    expect(await gw.balance(issued.account)).toMatchObject({ balance_micro: 10_000_000 - 7 * 33_000, charges: 7 });
    const account = (await (await gw.authed(issued.key, '/v1/account')).json()) as AccountBody;
    expect(account.budget).toMatchObject({ spent_micro: 7 * 33_000, remaining_micro: 0 });
  });

  it("a failed image gives its budget back; a video's hold counts against it and its settle leaves what was billed", async () => {
    const gw = make();
    const issued = await issue(gw, { budget_micro: 400_000, budget_period: 'total' });
    const failed = await image(gw, issued.key, `${uniq('fails')} #fal-500`);
    expect(failed.status).toBeGreaterThanOrEqual(500);
    const used = async () => ((await (await gw.authed(issued.key, '/v1/account')).json()) as AccountBody).budget!;
    expect(await used()).toMatchObject({ spent_micro: 0, held_micro: 0, remaining_micro: 400_000, resets_at: null });
    // A 4 s wan video holds 363 000 µ$: the budget then has 37 000 left, so an image (33 000) fits and a second does not.
    const video = await gw.authed(issued.key, '/v1/videos', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'wan', prompt: uniq('budget video'), seconds: '4' }) });
    expect(video.status).toBe(200);
    expect(await used()).toMatchObject({ spent_micro: 0, held_micro: 363_000 });
    expect((await image(gw, issued.key)).status).toBe(200);
    const second = await image(gw, issued.key);
    expect(second.status).toBe(402);
    expect(((await second.json()) as Err).error.code).toBe('budget_exceeded');
    // A second video does not fit the budget either: refused before it is submitted.
    const refusedVideo = await gw.authed(issued.key, '/v1/videos', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'wan', prompt: uniq('budget video 2'), seconds: '4' }) });
    expect(refusedVideo.status).toBe(402);
    const { id } = (await video.json()) as { id: string };
    for (let i = 0; ; i++) {
      const v = (await (await gw.authed(issued.key, `/v1/videos/${id}`)).json()) as { status: string };
      if (v.status === 'completed') break;
      if (i > 60) throw new Error(`video never completed: ${v.status}`);
      await new Promise((r) => setTimeout(r, 150));
    }
    expect(await used()).toMatchObject({ spent_micro: 33_000 + 363_000, held_micro: 0, remaining_micro: 4_000 });
  });
});

describe('per-key budgets: validation', () => {
  it('budget_micro needs budget_period (and the reverse); PATCH of an unknown key is a 404, of a revoked one a 400; rpm and expiry change too', async () => {
    const gw = gateway();
    const bad = async (res: Response, param: string | null) => {
      expect(res.status).toBe(400);
      expect(((await res.json()) as Err).error.param).toBe(param);
    };
    await bad(await gw.admin('/admin/keys', { method: 'POST', body: JSON.stringify({ tier: 'paid', budget_micro: 5 }) }), 'budget_period');
    await bad(await gw.admin('/admin/keys', { method: 'POST', body: JSON.stringify({ tier: 'paid', budget_period: 'day' }) }), 'budget_micro');
    await bad(await gw.admin('/admin/keys', { method: 'POST', body: JSON.stringify({ tier: 'paid', budget_micro: -1, budget_period: 'day' }) }), 'budget_micro');
    await bad(await gw.admin('/admin/keys', { method: 'POST', body: JSON.stringify({ tier: 'paid', budget_micro: 1, budget_period: 'week' }) }), 'budget_period');
    const issued = await issue(gw, {});
    await bad(await patch(gw, issued.key_id, {}), null);
    await bad(await patch(gw, issued.key_id, { rpm: 0 }), 'rpm');
    await bad(await patch(gw, issued.key_id, { expires_at: 5 }), 'expires_at');
    expect((await patch(gw, 'key_nope', { rpm: 5 })).status).toBe(404);
    const soon = Math.floor(Date.now() / 1000) + 3600;
    const changed = await patch(gw, issued.key_id, { rpm: 1, expires_at: soon, label: 'renamed' });
    expect(await changed.json()).toMatchObject({ rpm: 1, expires_at: soon, label: 'renamed' });
    expect((await gw.authed(issued.key, '/v1/account')).status).toBe(200);
    expect(((await (await gw.authed(issued.key, '/v1/account')).json()) as { rate_limit: { rpm: number } }).rate_limit.rpm).toBe(1);
    // A budget of 0 allows nothing priced.
    expect((await patch(gw, issued.key_id, { budget_micro: 0, budget_period: 'total', rpm: 100 })).status).toBe(200);
    expect(((await (await image(gw, issued.key)).json()) as Err).error.code).toBe('budget_exceeded');
    await gw.admin(`/admin/keys/${issued.key_id}`, { method: 'DELETE' });
    await bad(await patch(gw, issued.key_id, { rpm: 5 }), 'keyId');
    // Every change is in the account's audit trail, with what changed.
    const trail = (await bodyText(await gw.admin(`/admin/accounts/${issued.account}/audit?type=operator`))).trim().split('\n').map((l) => JSON.parse(l) as { type: string; detail: Record<string, unknown> });
    expect(trail.filter((e) => e.detail.action === 'PATCH /admin/keys/:keyId' && e.detail.status === 200).map((e) => e.detail)).toEqual(
      expect.arrayContaining([expect.objectContaining({ key_id: issued.key_id, rpm: 1, expires_at: soon, label_changed: true }), expect.objectContaining({ budget_micro: 0, budget_period: 'total' })]),
    );
  });
});
