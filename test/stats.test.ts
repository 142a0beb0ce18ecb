// Monitoring (issue 21): GET /admin/stats from the usage records, the admit's refusal counts, the outcome samples and
// the PHI refusals in the audit trail; operator reads recorded as filterable `operator.read`, at most once a minute;
// money amounts in the trail; one Analytics Engine data point per request when METRICS is bound.
import { describe, expect, it } from 'vitest';
import { bodyText, gateway, uniq, type Gateway } from './helpers';

type Row = {
  group: string;
  requests: number;
  successes: number;
  failures: number;
  failure_codes: Record<string, number>;
  refusals: Record<string, number>;
  spend_micro: number;
  latency_ms: { p50: number | null; p95: number | null; samples: number };
};
type Stats = { object: string; group: string; accounts: number; data: Row[]; total: Row };
type Line = { type: string; actor: string; key_id: string | null; detail: Record<string, unknown> };

const image = (gw: Gateway, key: string, prompt = uniq('stats image'), headers: Record<string, string> = {}) =>
  gw.authed(key, '/v1/images/generations', { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ prompt }) });
const stats = async (gw: Gateway, q: string) => {
  const res = await gw.admin(`/admin/stats?${q}`);
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as Stats;
};
const trail = async (gw: Gateway, account: string, q = '') =>
  (await bodyText(await gw.admin(`/admin/accounts/${account}/audit?${q}`)))
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Line);

describe('GET /admin/stats', () => {
  it('counts requests, successes, failures, refusals by code, spend and upstream latency, per model, key, day and account', async () => {
    const gw = gateway({ MEDIA: undefined });
    const account = uniq('stats');
    const t0 = Math.floor(Date.now() / 1000) - 5;
    const issue = async (body: Record<string, unknown>) =>
      (await (await gw.admin('/admin/keys', { method: 'POST', body: JSON.stringify({ tier: 'paid', account, rpm: 1000, ...body }) })).json()) as { key: string; key_id: string };
    const k1 = await issue({ credits_micro: 1_000_000 });
    const k2 = await issue({ budget_micro: 0, budget_period: 'day' });
    const k3 = await issue({ rpm: 1 });
    expect((await image(gw, k1.key)).status).toBe(200);
    expect((await image(gw, k1.key)).status).toBe(200);
    expect((await image(gw, k1.key, `${uniq('stats fail')} #fal-500`)).status).toBe(502);
    expect((await image(gw, k1.key, uniq('phi'), { 'x-phi': 'true' })).status).toBe(403);
    expect((await image(gw, k2.key)).status).toBe(402);
    expect((await image(gw, k3.key)).status).toBe(200);
    expect((await image(gw, k3.key)).status).toBe(429);
    const poor = await gw.issueKey({ credits_micro: 1_000 });
    expect((await image(gw, poor.key)).status).toBe(402);

    const byModel = await stats(gw, `account=${account}&group=model&from=${t0}`);
    expect(byModel).toMatchObject({ object: 'stats', group: 'model', accounts: 1 });
    const krea = byModel.data.find((r) => r.group === 'krea-2')!;
    expect(krea).toMatchObject({
      requests: 6,
      successes: 3,
      failures: 1,
      failure_codes: { upstream_error: 1 },
      refusals: { insufficient_quota: 0, budget_exceeded: 1, rate_limit_exceeded: 1, phi_blocked: 0 },
      spend_micro: 99_000,
    });
    // Every image's upstream latency was sampled (carried by later admits, or written by this very call).
    expect(krea.latency_ms.samples).toBe(4);
    expect(krea.latency_ms.p50).toEqual(expect.any(Number));
    expect(krea.latency_ms.p95!).toBeGreaterThanOrEqual(krea.latency_ms.p50!);
    // The PHI refusal happens before a model is resolved.
    expect(byModel.data.find((r) => r.group === 'unknown')).toMatchObject({ requests: 1, refusals: { phi_blocked: 1 } });
    expect(byModel.total).toMatchObject({ requests: 7, successes: 3, failures: 1, spend_micro: 99_000 });

    const byKey = await stats(gw, `account=${account}&group=key&from=${t0}`);
    const row = (id: string) => byKey.data.find((r) => r.group === id)!;
    expect(row(k1.key_id)).toMatchObject({ requests: 4, successes: 2, failures: 1, spend_micro: 66_000, refusals: { phi_blocked: 1 } });
    expect(row(k2.key_id)).toMatchObject({ requests: 1, successes: 0, refusals: { budget_exceeded: 1 } });
    expect(row(k3.key_id)).toMatchObject({ requests: 2, successes: 1, spend_micro: 33_000, refusals: { rate_limit_exceeded: 1 } });

    const byDay = await stats(gw, `account=${account}&from=${t0}`);
    expect(byDay.group).toBe('day');
    expect(byDay.data.map((r) => r.group)).toEqual([...new Set(byDay.data.map((r) => r.group))].sort());
    expect(byDay.data.reduce((n, r) => n + r.requests, 0)).toBe(7);

    // The whole gateway: every account (and the shared test one), each its own row.
    const all = await stats(gw, `group=account&from=${t0}`);
    expect(all.accounts).toBeGreaterThan(1);
    expect(all.data.find((r) => r.group === account)).toMatchObject({ requests: 7, spend_micro: 99_000 });
    expect(all.data.find((r) => r.group === poor.account)).toMatchObject({ requests: 1, successes: 0, refusals: { insufficient_quota: 1 } });

    // A range before it all is empty.
    expect((await stats(gw, `account=${account}&from=${t0 - 7200}&to=${t0 - 3600}`)).total).toMatchObject({ requests: 0, spend_micro: 0, latency_ms: { p50: null, samples: 0 } });
    for (const [q, param] of [['group=week', 'group'], ['from=10&to=5', 'from'], ['account=Not%20An%20Account', 'account']]) {
      const bad = await gw.admin(`/admin/stats?${q}`);
      expect(bad.status, q).toBe(400);
      expect(((await bad.json()) as { error: { param: string } }).error.param).toBe(param);
    }
    expect((await gw.fetch('/admin/stats')).status).toBe(401);
  });
});

describe('the audit trail for operators', () => {
  it('operator reads are `operator.read` (once per route and minute), changes `operator` with their amounts; filters by type and actor', async () => {
    const gw = gateway({ MEDIA: undefined });
    const { key, key_id, account } = await gw.issueKey({ credits_micro: 500_000 });
    for (let i = 0; i < 5; i++) expect((await gw.admin(`/admin/accounts/${account}/keys`)).status).toBe(200);
    expect((await gw.admin(`/admin/accounts/${account}`)).status).toBe(200);
    expect((await gw.admin(`/admin/stats?account=${account}`)).status).toBe(200);
    expect((await gw.admin(`/admin/accounts/${account}/credits`, { method: 'POST', body: JSON.stringify({ amount_micro: 250_000 }) })).status).toBe(200);
    expect((await gw.admin(`/admin/accounts/${account}/adjustments`, { method: 'POST', body: JSON.stringify({ amount_micro: -1_000, reason: 'correction' }) })).status).toBe(201);
    expect((await image(gw, key)).status).toBe(200);

    const lines = await trail(gw, account);
    const reads = lines.filter((l) => l.type === 'operator.read').map((l) => l.detail.action);
    expect(reads.filter((a) => a === 'GET /admin/accounts/:account/keys')).toHaveLength(1);
    expect(reads).toEqual(expect.arrayContaining(['GET /admin/accounts/:account', 'GET /admin/stats']));
    const writes = lines.filter((l) => l.type === 'operator');
    expect(writes.find((l) => l.detail.action === 'POST /admin/keys')).toMatchObject({ actor: 'operator', detail: { key_id, amount_micro: 500_000 } });
    expect(writes.find((l) => l.detail.action === 'POST /admin/accounts/:account/credits')).toMatchObject({ detail: { amount_micro: 250_000, balance_micro: 750_000 } });
    expect(writes.find((l) => l.detail.action === 'POST /admin/accounts/:account/adjustments')).toMatchObject({ detail: { amount_micro: -1_000 } });
    // Every money event carries its amount: charges, adjustments (and refunds, erasures: see the ledger and erase tests).
    expect(lines.find((l) => l.type === 'generation')).toMatchObject({ actor: key_id, detail: { cost_micro: 33_000 } });
    expect(lines.find((l) => l.type === 'adjustment')).toMatchObject({ actor: 'operator', detail: { cost_micro: 1_000, reason: 'correction' } });
    // Filters: a type (a prefix at a dot), an actor.
    const onlyReads = await trail(gw, account, 'type=operator.read');
    expect(onlyReads.length).toBeGreaterThan(0);
    expect(onlyReads.every((l) => l.type === 'operator.read')).toBe(true);
    expect(new Set((await trail(gw, account, 'type=operator')).map((l) => l.type))).toEqual(new Set(['operator', 'operator.read']));
    const byKey = await trail(gw, account, `actor=${key_id}`);
    expect(byKey.map((l) => l.type)).toEqual(['generation', 'media.issued']);
    expect((await trail(gw, account, 'actor=system'))).toEqual([]);
  });
});

describe('Workers Analytics Engine (METRICS)', () => {
  it('one data point per request, with model, provider, status, latency and cost; a failing dataset breaks nothing; unbound writes nothing', async () => {
    const points: AnalyticsEngineDataPoint[] = [];
    const gw = gateway({ MEDIA: undefined, METRICS: { writeDataPoint: (p: AnalyticsEngineDataPoint) => void points.push(p) } });
    const { key } = await gw.issueKey({ credits_micro: 100_000 });
    points.length = 0;
    expect((await image(gw, key)).status).toBe(200);
    expect((await gw.fetch('/v1/models')).status).toBe(200);
    expect((await gw.fetch('/v1/nowhere')).status).toBe(404);
    expect(points).toHaveLength(3);
    expect(points[0]).toMatchObject({ indexes: ['POST /v1/images/generations'], blobs: ['POST /v1/images/generations', 'krea-2', 'fal', '', '2xx'] });
    const [status, ms, upstreamMs, cost] = points[0]!.doubles!;
    expect([status, cost]).toEqual([200, 33_000]);
    expect(ms).toBeGreaterThanOrEqual(upstreamMs!);
    expect(points[2]).toMatchObject({ blobs: ['GET (unmatched)', '', '', 'not_found', '4xx'], doubles: [404, expect.any(Number), 0, 0] });
    const broken = gateway({ MEDIA: undefined, METRICS: { writeDataPoint: () => { throw new Error('dataset down'); } } });
    expect((await broken.fetch('/v1/models')).status).toBe(200);
    expect((await gateway({ MEDIA: undefined, METRICS: undefined }).fetch('/v1/models')).status).toBe(200);
  });
});
