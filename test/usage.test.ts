// Usage (issue 13.2): records carry request id, key id, model, units and cost, in unix seconds, never an upstream id;
// the customer reads its own (/v1/usage), the operator any account's as JSON or CSV — the free tier's included.
import { describe, expect, it } from 'vitest';
import { decodeJob } from '../src/jobs/id';
import { gateway, TEST_API_KEY, uniq } from './helpers';

type Line = { at: number; type: string; request_id: string | null; key_id: string | null; model: string | null; units: number | null; unit: string | null; cost_micro: number; video_id: string | null; reason: string | null };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('usage', () => {
  it('a paid image and a paid video appear with request id, key id, model, units and cost; no upstream id anywhere', async () => {
    const gw = gateway({ MEDIA: undefined });
    const { key, key_id, account } = await gw.issueKey({ credits_micro: 1_000_000 });
    const t0 = Math.floor(Date.now() / 1000);
    const { response } = await gw.openai(key).images.generate({ prompt: uniq('usage image'), n: 2 }).withResponse();
    const imageRequest = response.headers.get('x-request-id');
    const enq = await gw.authed(key, '/v1/videos', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'wan', prompt: uniq('usage video'), seconds: '4' }) });
    const videoRequest = enq.headers.get('x-request-id');
    const { id } = (await enq.json()) as { id: string };
    for (let i = 0; i < 40; i++) {
      const v = (await (await gw.authed(key, `/v1/videos/${id}`)).json()) as { status: string };
      if (v.status === 'completed') break;
      await sleep(150);
    }
    const res = await gw.authed(key, '/v1/usage');
    expect(res.status).toBe(200);
    const body = (await res.json()) as { object: string; account: string; data: Line[]; total_cost_micro: number; from: number; to: number };
    expect(body).toMatchObject({ object: 'list', account, total_cost_micro: 66_000 + 363_000 });
    expect(body.data).toEqual([
      { at: expect.any(Number), type: 'image', request_id: imageRequest, key_id, model: 'krea-2', units: 2, unit: 'image', cost_micro: 66_000, video_id: null, reason: null },
      { at: expect.any(Number), type: 'video', request_id: videoRequest, key_id, model: 'wan', units: 4.125, unit: 'second', cost_micro: 363_000, video_id: id, reason: null },
    ]);
    for (const l of body.data) expect(l.at).toBeGreaterThanOrEqual(t0);
    const upstream = (await decodeJob(gw.env.SIGNING_SECRET!, id, account))!.r;
    expect(JSON.stringify(body)).not.toContain(upstream);
    // A range that ends before them holds nothing.
    expect(((await (await gw.authed(key, `/v1/usage?from=${t0 - 3600}&to=${t0 - 1}`)).json()) as { data: Line[] }).data).toEqual([]);
  });

  it('the operator gets CSV (Accept: text/csv) with reasons escaped and formulas neutralised; ranges are checked', async () => {
    const gw = gateway({ MEDIA: undefined });
    const { key, account } = await gw.issueKey({ credits_micro: 100_000 });
    await gw.openai(key).images.generate({ prompt: uniq('csv') });
    await gw.admin(`/admin/accounts/${account}/adjustments`, { method: 'POST', body: JSON.stringify({ amount_micro: 1_000, reason: '=HYPERLINK("x"), sorry' }) });
    const res = await gw.admin(`/admin/accounts/${account}/usage`, { headers: { accept: 'text/csv' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    const rows = (await res.text()).trim().split('\r\n');
    expect(rows[0]).toBe('at,type,request_id,key_id,model,units,unit,cost_micro,video_id,reason');
    expect(rows).toHaveLength(3);
    expect(rows[1]).toMatch(/^\d+,image,req_[A-Za-z0-9_-]+,key_[A-Za-z0-9_-]+,krea-2,1,image,33000,,$/);
    expect(rows[2]).toMatch(/^\d+,adjustment,,,,,,-1000,,"'=HYPERLINK\(""x""\), sorry"$/);
    for (const [q, param] of [['from=10&to=5', 'from'], [`from=0&to=${400 * 86400 + 1}`, 'from'], ['from=abc', 'from']]) {
      const bad = await gw.admin(`/admin/accounts/${account}/usage?${q}`);
      expect(bad.status, q).toBe(400);
      expect(((await bad.json()) as { error: { param: string } }).error.param).toBe(param);
    }
  });

  it('the free tier: the operator sees its usage ($0) under account test; the shared key cannot read everyone\'s', async () => {
    const gw = gateway({ MEDIA: undefined, TEST_KEY_RPM: '1000' });
    const prompt = uniq('free usage');
    const { response } = await gw.openai(TEST_API_KEY).images.generate({ prompt }).withResponse();
    const rid = response.headers.get('x-request-id');
    const lines = ((await (await gw.admin('/admin/accounts/test/usage')).json()) as { data: Line[] }).data;
    expect(lines.find((l) => l.request_id === rid)).toMatchObject({ type: 'image', key_id: 'test', model: 'krea-2', units: 1, cost_micro: 0 });
    expect((await gw.authed(TEST_API_KEY, '/v1/usage')).status).toBe(404);
    expect((await gw.fetch('/v1/usage')).status).toBe(401);
  });
});
