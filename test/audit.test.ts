// The audit trail (issue 13.3): operator actions, generations, media issued and downloaded, webhooks sent — per
// account, as JSON Lines over a time range, never content, prompts, URLs, keys or upstream ids.
import { describe, expect, it } from 'vitest';
import { createMessageBatch } from 'cloudflare:test';
import { consume } from '../src/jobs/consumer';
import type { JobMessage } from '../src/jobs/queue';
import { decodeJob } from '../src/jobs/id';
import { parseConfig } from '../src/config';
import { bodyText, gateway, uniq } from './helpers';
import { inject } from 'vitest';

type Line = { account: string; at: number; type: string; request_id: string | null; key_id: string | null; detail: Record<string, unknown> };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('audit trail', () => {
  it('records what happened to an account and exports it as JSON Lines, with nothing private in it', async () => {
    const queued: JobMessage[] = [];
    const gw = gateway({ ALLOW_INSECURE_URLS: 'true', JOBS: { send: async (m: JobMessage) => void queued.push(m) } });
    const account = uniq('audited');
    const t0 = Math.floor(Date.now() / 1000);
    const issued = await gw.admin('/admin/keys', { method: 'POST', body: JSON.stringify({ tier: 'paid', account, credits_micro: 2_000_000, label: 'audited key' }) });
    const { key, key_id } = (await issued.json()) as { key: string; key_id: string };
    await gw.admin(`/admin/accounts/${account}/adjustments`, { method: 'POST', body: JSON.stringify({ amount_micro: 1_000, reason: 'goodwill' }) });
    await gw.admin(`/admin/accounts/${account}/webhook`, { method: 'PUT', body: JSON.stringify({ url: `${inject('receiverUrl')}/hook/${uniq('audit')}` }) });
    const prompt = uniq('a private prompt that must not be audited');
    const img = await gw.openai(key).images.generate({ prompt, n: 2 }).withResponse();
    const imageUrl = new URL(img.data.data![0]!.url!);
    expect((await gw.fetch(imageUrl.pathname + imageUrl.search)).status).toBe(200);
    const enq = await gw.authed(key, '/v1/videos', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'wan', prompt, seconds: '2' }) });
    const { id } = (await enq.json()) as { id: string };
    await sleep(1_600);
    const polled = await gw.authed(key, `/v1/videos/${id}`);
    const videoUrl = ((await polled.json()) as { url: string }).url;
    expect((await gw.authed(key, `/v1/videos/${id}/content`)).status).toBe(200);
    // The customer webhook goes out through the queue consumer.
    const hooks = queued.filter((m) => m.t === 'webhook');
    expect(hooks).toHaveLength(1);
    await consume(createMessageBatch<JobMessage>('phi-gateway-jobs', hooks.map((body, i) => ({ id: `a${i}`, timestamp: new Date(), attempts: 1, body }))), gw.env);
    await gw.admin(`/admin/keys/${key_id}`, { method: 'DELETE' });

    const res = await gw.admin(`/admin/accounts/${account}/audit?from=${t0 - 5}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/x-ndjson; charset=utf-8');
    const text = await bodyText(res);
    const lines = text.trimEnd().split('\n').map((l) => JSON.parse(l) as Line);
    const types = lines.map((l) => l.type);
    for (const t of ['operator', 'generation', 'media.issued', 'media.downloaded', 'webhook.sent', 'adjustment']) expect(types, t).toContain(t);
    expect(lines.every((l) => l.account === account && l.at >= t0 - 5)).toBe(true);
    expect([...lines].sort((a, b) => a.at - b.at)).toEqual(lines);
    const actions = lines.filter((l) => l.type === 'operator').map((l) => l.detail.action);
    expect(actions).toEqual(expect.arrayContaining(['POST /admin/keys', 'POST /admin/accounts/:account/adjustments', 'PUT /admin/accounts/:account/webhook', 'DELETE /admin/keys/:keyId']));
    const gen = lines.find((l) => l.type === 'generation' && l.detail.kind === 'image')!;
    expect(gen).toMatchObject({ request_id: img.response.headers.get('x-request-id'), key_id, detail: { model: 'krea-2', units: 2, cost_micro: 66_000 } });
    expect(lines.find((l) => l.type === 'generation' && l.detail.kind === 'video')).toMatchObject({ request_id: enq.headers.get('x-request-id'), key_id, detail: { video_id: id, units: 1.875 } });
    expect(lines.filter((l) => l.type === 'media.downloaded').map((l) => l.detail.kind).sort()).toEqual(['image', 'video']);
    expect(lines.find((l) => l.type === 'webhook.sent')).toMatchObject({ detail: { event_type: 'video.completed', attempt: 1, status: 200 } });
    // Never content, prompts, URLs, keys or upstream ids.
    const upstream = (await decodeJob(parseConfig(gw.env).SIGNING_SECRET, id, account))!.r;
    for (const secret of [prompt, key, upstream, imageUrl.search.slice(1), new URL(videoUrl).search.slice(1), inject('receiverUrl'), 'http']) expect(text).not.toContain(secret);
    // A range before it all is empty; ranges are checked.
    expect(await bodyText(await gw.admin(`/admin/accounts/${account}/audit?from=${t0 - 3600}&to=${t0 - 3000}`))).toBe('');
    expect((await gw.admin(`/admin/accounts/${account}/audit?from=5&to=1`)).status).toBe(400);
  });

  it('AUDIT_RETENTION_DAYS bounds what is kept, and is validated', async () => {
    expect(parseConfig({ ...gateway().env, AUDIT_RETENTION_DAYS: '30' } as never).AUDIT_RETENTION_DAYS).toBe(30);
    const bad = await gateway({ AUDIT_RETENTION_DAYS: '0' }).fetch('/v1/models');
    expect(bad.status).toBe(500);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toContain('AUDIT_RETENTION_DAYS');
  });
});
