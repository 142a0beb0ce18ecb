// Completion without polling (issue 12): the job watcher on the JOBS queue, fal's signed webhooks, and customer
// webhooks signed the Standard Webhooks way — with money exact whoever ends the job.
import fc from 'fast-check';
import { describe, expect, inject, it } from 'vitest';
import { createMessageBatch } from 'cloudflare:test';
import OpenAI from 'openai';
import { decodeJob } from '../src/jobs/id';
import { consume } from '../src/jobs/consumer';
import type { JobMessage } from '../src/jobs/queue';
import { falOrigin, gateway, standinCalls, TEST_API_KEY, uniq, type Gateway, eventually, sleep } from './helpers';

type Video = { id: string; status: string; cost_micro?: number; completed_at: number | null };


/** A gateway whose JOBS queue is captured; `pump` hands what was queued to the real consumer with this env. */
function captured(overrides: Record<string, unknown> = {}) {
  const queued: { body: JobMessage; delaySeconds?: number }[] = [];
  const JOBS = {
    send: async (body: JobMessage, opts?: { delaySeconds?: number }) => void queued.push({ body, delaySeconds: opts?.delaySeconds }),
  };
  const gw = gateway({ JOBS, ...overrides });
  let n = 0;
  const pump = async (filter: (m: JobMessage) => boolean = () => true) => {
    const take = queued.filter((q) => filter(q.body));
    for (const q of take) queued.splice(queued.indexOf(q), 1);
    if (!take.length) return [];
    const batch = createMessageBatch<JobMessage>('phi-gateway-jobs', take.map((q) => ({ id: `m${n++}`, timestamp: new Date(), attempts: 1, body: q.body })));
    await consume(batch, gw.env);
    return take;
  };
  return { gw, queued, pump };
}

async function enqueue(gw: Gateway, key: string, prompt: string, extra: Record<string, unknown> = {}): Promise<Video> {
  const res = await gw.authed(key, '/v1/videos', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'wan', prompt, seconds: '4', ...extra }) });
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as Video;
}

interface FalWebhook {
  url: string;
  headers: Record<string, string>;
  body: string;
}

/** The signed webhook the fal stand-in produced for a request (it cannot reach the in-process gateway itself). */
async function falWebhook(requestId: string, signedAt?: number): Promise<FalWebhook> {
  let hook: FalWebhook | undefined;
  await eventually(async () => {
    const res = await fetch(`${falOrigin()}/__webhooks?request_id=${encodeURIComponent(requestId)}${signedAt ? `&timestamp=${signedAt}` : ''}`);
    hook = ((await res.json()) as FalWebhook[])[0];
    expect(hook).toBeDefined();
  });
  return hook!;
}

const header = (h: Record<string, string>, name: string) => Object.entries(h).find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1];

/** Sends a fal webhook to the gateway at the path fal was given, with its (possibly altered) headers and body. */
function relay(gw: Gateway, hook: FalWebhook, change: { body?: string; headers?: Record<string, string>; path?: string } = {}) {
  const headers: Record<string, string> = {};
  for (const name of ['content-type', 'x-fal-webhook-request-id', 'x-fal-webhook-user-id', 'x-fal-webhook-timestamp', 'x-fal-webhook-signature']) {
    const v = header(hook.headers, name);
    if (v !== undefined) headers[name] = v;
  }
  const url = new URL(hook.url);
  return gw.fetch(change.path ?? url.pathname, { method: 'POST', headers: { ...headers, ...change.headers }, body: change.body ?? hook.body });
}

const requestIdOf = async (gw: Gateway, id: string, account: string) => (await decodeJob(gw.env.SIGNING_SECRET!, id, account))!.r;

describe('the job watcher (JOBS queue, delayed messages)', () => {
  it('a paid job nobody polls is followed to its end by the real queue and charged exactly once', async () => {
    const gw = gateway();
    const { key, account } = await gw.issueKey({ credits_micro: 1_000_000 });
    const { id } = await enqueue(gw, key, uniq('never polled'));
    expect(await gw.balance(account)).toMatchObject({ held_micro: 363_000, charges: 0 });
    await eventually(async () => expect(await gw.balance(account)).toMatchObject({ balance_micro: 637_000, held_micro: 0, charges: 1 }), 25_000);
    // A later poll finds it finished (from its record: no second charge, the same completed_at).
    const video = (await (await gw.authed(key, `/v1/videos/${id}`)).json()) as Video;
    expect(video).toMatchObject({ status: 'completed', cost_micro: 363_000 });
    expect((await gw.balance(account)).charges).toBe(1);
  });

  it('a failed job releases its hold without any poll', async () => {
    const gw = gateway();
    const { key, account } = await gw.issueKey({ credits_micro: 1_000_000 });
    await enqueue(gw, key, uniq('#fal-job-fail never polled'));
    expect((await gw.balance(account)).held_micro).toBe(363_000);
    await eventually(async () => expect(await gw.balance(account)).toMatchObject({ balance_micro: 1_000_000, held_micro: 0, charges: 0 }), 25_000);
  });

  it.each([['Durable Object', {}], ['Upstash', { UPSTASH_REDIS_REST_URL: inject('upstashUrl'), UPSTASH_REDIS_REST_TOKEN: inject('upstashToken') }]] as const)(
    'on the %s ledger: re-queued with backoff while running, settled once when done, nothing after',
    async (_, store) => {
      if (store !== undefined && 'UPSTASH_REDIS_REST_URL' in store && !store.UPSTASH_REDIS_REST_URL && !inject('ci')) return;
      const { gw, queued, pump } = captured({ ...store, MEDIA: undefined });
      const { key, account } = await gw.issueKey({ credits_micro: 1_000_000 });
      // A slow job (done after five status polls, or 8 s): still running at the first look however slow the machine.
      const { id } = await enqueue(gw, key, `${uniq('watched')} #fal-slow`);
      expect(queued.map((q) => [q.body.t, q.delaySeconds])).toEqual([['watch', 2]]);
      await pump(); // too early: still running → the next look is queued, later
      expect(queued.map((q) => [q.body.t, q.delaySeconds])).toEqual([['watch', 3]]);
      // It ends by polls, not by the clock: fal's status is asked (as a poll would) until it says COMPLETED.
      const job = (await decodeJob(gw.env.SIGNING_SECRET!, id, account))!;
      const status = `${inject('falQueueUrl')}/${job.e.split('/').slice(0, 2).join('/')}/requests/${job.r}/status`;
      await eventually(async () => {
        const s = (await (await fetch(status, { headers: { authorization: 'Key test-fal-key' } })).json()) as { status: string };
        expect(s.status).toBe('COMPLETED');
      }, 20_000, 0);
      await pump();
      expect(await gw.balance(account)).toMatchObject({ balance_micro: 637_000, held_micro: 0, charges: 1 });
      // Ended: no further look, one customer event queued.
      expect(queued.map((q) => q.body.t)).toEqual(['webhook']);
      const video = (await (await gw.authed(key, `/v1/videos/${id}`)).json()) as Video;
      expect(video).toMatchObject({ status: 'completed', cost_micro: 363_000 });
    },
  );

  it('the free tier is watched too: its worker job ends (listed completed) without a poll, $0', async () => {
    const { gw, pump } = captured({ MEDIA: undefined, TEST_KEY_RPM: '1000' });
    const { id } = await enqueue(gw, TEST_API_KEY, uniq('worker watched'), { model: 'wan', seconds: '1' });
    await eventually(async () => {
      await pump();
      const list = (await (await gw.authed(TEST_API_KEY, '/v1/videos?limit=100')).json()) as { data: Video[] };
      expect(list.data.find((v) => v.id === id)?.status).toBe('completed');
    });
  });
});

describe('fal webhooks', () => {
  it('a valid signed webhook settles the job at once; a tampered or stale one is 401 and changes nothing', async () => {
    const { gw } = captured({ MEDIA: undefined });
    const { key, account } = await gw.issueKey({ credits_micro: 1_000_000 });
    const { id } = await enqueue(gw, key, uniq('hooked'));
    const requestId = await requestIdOf(gw, id, account);
    const [submit] = await standinCalls(falOrigin(), (c) => c.method === 'POST' && c.path.endsWith('/text-to-video') && c.query.fal_webhook !== undefined && c.at > Date.now() - 10_000);
    expect(submit!.query.fal_webhook).toMatch(/^https:\/\/gw\.test\/v1\/hooks\/fal\/[A-Za-z0-9_-]+$/);
    const hook = await falWebhook(requestId);
    expect(hook.url).not.toContain(account);

    const tampered = JSON.stringify({ ...JSON.parse(hook.body), status: 'ERROR' });
    const sig = header(hook.headers, 'x-fal-webhook-signature')!;
    const flipped = (sig[0] === '0' ? '1' : '0') + sig.slice(1);
    const changes: { body?: string; headers?: Record<string, string> }[] = [
      { body: tampered },
      { headers: { 'x-fal-webhook-signature': flipped } },
      { headers: { 'x-fal-webhook-timestamp': String(Number(header(hook.headers, 'x-fal-webhook-timestamp')) - 1) } },
      { headers: { 'x-fal-webhook-request-id': crypto.randomUUID() } },
      { headers: { 'x-fal-webhook-signature': '' } },
    ];
    for (const change of changes) {
      const res = await relay(gw, hook, change);
      expect(res.status, JSON.stringify(change)).toBe(401);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('invalid_signature');
    }
    // Genuinely signed, but more than 300 s old (a replay) or from the future. The gateway reads its own clock
    // later than this test does, so the margins around the 300 s bound leave room for a slow machine (30 s).
    const now = Math.floor(Date.now() / 1000);
    for (const signedAt of [now - 330, now + 330]) {
      const res = await relay(gw, await falWebhook(requestId, signedAt));
      expect(res.status, String(signedAt - now)).toBe(401);
    }
    // Still fresh enough: 270 s old passes the check (and is then only a nudge).
    expect((await relay(gw, await falWebhook(requestId, now - 270), { path: '/v1/hooks/fal/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' })).status).toBe(404);
    // A genuine signature on another job's URL: the token is sealed, a forged one is a 404.
    expect((await relay(gw, hook, { path: '/v1/hooks/fal/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' })).status).toBe(404);
    expect(await gw.balance(account)).toMatchObject({ held_micro: 363_000, charges: 0 });

    const ok = await relay(gw, hook);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ received: true, status: 'completed' });
    expect(await gw.balance(account)).toMatchObject({ balance_micro: 637_000, held_micro: 0, charges: 1 });
    // fal retries deliveries: the same webhook again moves nothing.
    expect((await relay(gw, hook)).status).toBe(200);
    expect((await gw.balance(account)).charges).toBe(1);
  });

  it('watcher + 50 concurrent polls + the fal webhook, racing on a finished job → exactly one charge and one event', async () => {
    const { gw, queued, pump } = captured();
    const { key, account } = await gw.issueKey({ credits_micro: 1_000_000, rpm: 10_000 });
    const { id } = await enqueue(gw, key, uniq('race'));
    const hook = await falWebhook(await requestIdOf(gw, id, account)); // fal says it is done
    const results = await Promise.all([
      pump((m) => m.t === 'watch'),
      relay(gw, hook).then((r) => r.status),
      ...Array.from({ length: 50 }, () => gw.authed(key, `/v1/videos/${id}`).then(async (r) => ((await r.json()) as Video))),
    ]);
    const polls = results.slice(2) as Video[];
    expect(results[1]).toBe(200);
    expect(new Set(polls.map((v) => v.status))).toEqual(new Set(['completed']));
    expect(new Set(polls.map((v) => v.completed_at)).size).toBe(1);
    expect(await gw.balance(account)).toMatchObject({ balance_micro: 637_000, held_micro: 0, charges: 1 });
    expect(queued.filter((q) => q.body.t === 'webhook')).toHaveLength(1);
  });
});

describe('the fal hook route under hostile input (property)', () => {
  it('any headers, body and token: 401 or 404 (413 when huge), never a 5xx, always the envelope; nothing moves', async () => {
    const { seed, runs } = inject('fuzz');
    const gw = gateway({ MEDIA: undefined });
    const { key, account } = await gw.issueKey({ credits_micro: 1_000_000 });
    const { id } = await enqueue(gw, key, uniq('fuzzed hook'));
    const genuine = await falWebhook(await requestIdOf(gw, id, account));
    const token = new URL(genuine.url).pathname.split('/').pop()!;
    const hex = fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 0, maxLength: 130 });
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          token: fc.oneof(fc.constant(token), fc.string({ unit: fc.constantFrom(...'ABCabc019-_'), minLength: 1, maxLength: 200 })),
          requestId: fc.oneof(fc.constant(header(genuine.headers, 'x-fal-webhook-request-id')!), fc.uuid(), fc.string({ maxLength: 40 })),
          timestamp: fc.oneof(fc.constant(header(genuine.headers, 'x-fal-webhook-timestamp')!), fc.integer().map(String), fc.string({ maxLength: 12 })),
          signature: fc.oneof(hex, fc.string({ maxLength: 130 })),
          body: fc.oneof(fc.constant(genuine.body), fc.string({ maxLength: 300 }), fc.json()),
        }),
        async (h) => {
          const res = await gw.fetch(`/v1/hooks/fal/${encodeURIComponent(h.token)}`, {
            method: 'POST',
            headers: { 'x-fal-webhook-request-id': h.requestId.replace(/[\r\n]/g, ''), 'x-fal-webhook-user-id': 'standin-user', 'x-fal-webhook-timestamp': h.timestamp.replace(/[\r\n]/g, ''), 'x-fal-webhook-signature': h.signature.replace(/[\r\n]/g, '') },
            body: h.body,
          });
          expect([401, 404]).toContain(res.status);
          expect(res.headers.get('x-request-id')).toMatch(/^req_/);
          expect(((await res.json()) as { error: { code: string } }).error.code).toMatch(/^(invalid_signature|not_found)$/);
        },
      ),
      { seed, numRuns: Math.min(runs, 80), endOnFailure: true },
    );
    expect(await gw.balance(account)).toMatchObject({ held_micro: 363_000, charges: 0 });
  });
});

describe('customer webhooks', () => {
  const receiver = () => inject('receiverUrl');

  it('the operator sets an endpoint; a completed video is delivered, and the SDK webhooks.unwrap accepts it', async () => {
    const { gw, pump } = captured({ MEDIA: undefined, ALLOW_INSECURE_URLS: 'true' });
    const { key, account } = await gw.issueKey({ credits_micro: 1_000_000 });
    const name = uniq('unwrap');
    const put = await gw.admin(`/admin/accounts/${account}/webhook`, { method: 'PUT', body: JSON.stringify({ url: `${receiver()}/hook/${name}` }) });
    expect(put.status).toBe(200);
    const { secret, url } = (await put.json()) as { secret: string; url: string };
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(url).toBe(`${receiver()}/hook/${name}`);
    const { id } = await enqueue(gw, key, uniq('tell me'));
    await sleep(1_600);
    await pump((m) => m.t === 'watch');
    await pump((m) => m.t === 'webhook');
    const [delivery] = (await (await fetch(`${receiver()}/__deliveries/${name}`)).json()) as { headers: Record<string, string>; body: string }[];
    expect(delivery).toBeDefined();
    const client = new OpenAI({ apiKey: 'unused', webhookSecret: secret });
    const event = (await client.webhooks.unwrap(delivery!.body, delivery!.headers, secret)) as unknown as { id: string; object: string; type: string; created_at: number; data: { id: string } };
    expect(event).toMatchObject({ object: 'event', type: 'video.completed', data: { id } });
    expect(event.id).toMatch(/^evt_/);
    expect(delivery!.headers['webhook-id']).toBe(event.id);
    // Another secret does not verify it.
    await expect(client.webhooks.unwrap(delivery!.body, delivery!.headers, `whsec_${btoa('x'.repeat(32))}`)).rejects.toThrow();
    // A failed job is told too.
    const failed = await enqueue(gw, key, uniq('#fal-job-fail tell me'));
    await sleep(1_600);
    await pump((m) => m.t === 'watch');
    await pump((m) => m.t === 'webhook');
    const all = (await (await fetch(`${receiver()}/__deliveries/${name}`)).json()) as { body: string }[];
    expect(all.map((d) => JSON.parse(d.body) as { type: string; data: { id: string } }).at(-1)).toMatchObject({ type: 'video.failed', data: { id: failed.id } });
  });

  it('a receiver that fails twice gets the event on the third attempt, with the same webhook-id, after backoff', async () => {
    const { gw, queued, pump } = captured({ MEDIA: undefined, ALLOW_INSECURE_URLS: 'true' });
    const { key, account } = await gw.issueKey({ credits_micro: 1_000_000 });
    const name = uniq('flaky');
    const { secret } = (await (await gw.admin(`/admin/accounts/${account}/webhook`, { method: 'PUT', body: JSON.stringify({ url: `${receiver()}/hook/${name}` }) })).json()) as { secret: string };
    await fetch(`${receiver()}/__fail/${name}?times=2`, { method: 'POST' });
    await enqueue(gw, key, uniq('flaky receiver'));
    await sleep(1_600);
    await pump((m) => m.t === 'watch');
    const delays: (number | undefined)[] = [];
    for (let i = 0; i < 3; i++) {
      await pump((m) => m.t === 'webhook');
      delays.push(...queued.filter((q) => q.body.t === 'webhook').map((q) => q.delaySeconds));
    }
    expect(delays).toEqual([5, 10]);
    const got = (await (await fetch(`${receiver()}/__deliveries/${name}`)).json()) as { headers: Record<string, string>; body: string; status: number }[];
    expect(got.map((d) => d.status)).toEqual([500, 500, 200]);
    expect(new Set(got.map((d) => d.headers['webhook-id'])).size).toBe(1);
    expect(new Set(got.map((d) => d.body)).size).toBe(1);
    const client = new OpenAI({ apiKey: 'unused' });
    await expect(client.webhooks.unwrap(got[2]!.body, got[2]!.headers, secret)).resolves.toMatchObject({ type: 'video.completed' });
  });

  it('endpoint rules: https public hosts only (loopback needs ALLOW_INSECURE_URLS), the test account is reserved, DELETE stops deliveries', async () => {
    const gw = gateway();
    const { account } = await gw.issueKey({ credits_micro: 0 });
    const put = (a: string, url: unknown, g = gw) => g.admin(`/admin/accounts/${a}/webhook`, { method: 'PUT', body: JSON.stringify({ url }) });
    for (const url of [`${receiver()}/hook/x`, 'http://example.com/hook', 'https://127.0.0.1/hook', 'https://metadata.internal/x', 'https://localhost/x', 'ftp://example.com/x', 'not a url']) {
      const res = await put(account, url);
      expect(res.status, url).toBe(400);
      expect(((await res.json()) as { error: { param: string } }).error.param).toBe('url');
    }
    expect((await put(account, 42)).status).toBe(400);
    expect((await put('test', 'https://example.com/hook')).status).toBe(400);
    expect((await put(uniq('nobody'), 'https://example.com/hook')).status).toBe(404);
    const ok = await put(account, 'https://hooks.example.com/phi');
    expect(ok.status).toBe(200);
    // Set again: a new secret (the old one stops verifying).
    const again = (await (await put(account, 'https://hooks.example.com/phi')).json()) as { secret: string };
    expect(again.secret).not.toBe(((await ok.json()) as { secret: string }).secret);
    const del = await gw.admin(`/admin/accounts/${account}/webhook`, { method: 'DELETE' });
    expect(await del.json()).toMatchObject({ deleted: true });
    // No endpoint: a queued event is dropped without a request.
    const { gw: g2, queued, pump } = captured({ MEDIA: undefined, ALLOW_INSECURE_URLS: 'true' });
    const k2 = await g2.issueKey({ credits_micro: 1_000_000 });
    const name = uniq('removed');
    await put(k2.account, `${receiver()}/hook/${name}`, g2);
    await g2.admin(`/admin/accounts/${k2.account}/webhook`, { method: 'DELETE' });
    await enqueue(g2, k2.key, uniq('nobody listens'));
    await sleep(1_600);
    await pump((m) => m.t === 'watch');
    await pump((m) => m.t === 'webhook');
    expect(queued).toEqual([]);
    expect(await (await fetch(`${receiver()}/__deliveries/${name}`)).json()).toEqual([]);
  });
});
