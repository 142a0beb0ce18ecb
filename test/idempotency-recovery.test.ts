// Issue 24, part 2: a retry with the same Idempotency-Key after a 5xx (or a lost answer) always recovers: it gets
// the delivered output replayed, or runs again and is charged once — never a 409 that only time cures. Faults come
// from the fault-injecting proxy in front of the Upstash stand-in (test/standins/fault-proxy.mjs), scoped by the
// account's name; the JOBS queue is captured and handed to the real consumer by the test, as the queue would.
import { describe, expect, inject, it } from 'vitest';
import { capturedJobs, requireService, standinCalls, falOrigin, uniq, type Gateway } from './helpers';

const faultyUrl = inject('faultyUpstashUrl');
requireService('fault proxy in front of the Upstash stand-in', faultyUrl);

type Mode = 'fail' | 'lost-reply' | 'hang';
const fault = (match: string, mode: Mode, times?: number) => fetch(`${faultyUrl}/__faults`, { method: 'POST', body: JSON.stringify({ match, mode, times }) });
const clear = (match: string) => fetch(`${faultyUrl}/__faults?match=${encodeURIComponent(match)}`, { method: 'DELETE' });
/** Request-body fragments that identify one ledger operation of one account (see src/ledger/upstash.ts). */
const ops = (account: string) => ({
  admit: `"phi:{${account}}:rl:`, // only an admit touches the rate key
  release: `3,"phi:{${account}}:h",`, // RELEASE: the holds, the released-hold marker, the idempotency marker
  remember: `3,"phi:{${account}}:i:`, // REMEMBER: the idempotency record first
  refund: `"phi:{${account}}:uz","phi:{${account}}:cb:`, // REFUND: …, the usage, the claim's budget counter
});

const onUpstash = (extra: Record<string, unknown> = {}) => capturedJobs(faultyUrl, extra);

const image = (gw: Gateway, key: string, prompt: string, idem: string) =>
  gw.authed(key, '/v1/images/generations', { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': idem }, body: JSON.stringify({ prompt }) });
const runs = async (prompt: string) => (await standinCalls(falOrigin(), (c) => (c.body as { prompt?: string } | null)?.prompt === prompt)).length;
const errorOf = async (res: Response) => ((await res.json()) as { error: { code: string } }).error;

/** The account's usage lines, as its operator (and, for its own key, the customer) sees them. */
const usage = async (gw: Gateway, account: string) =>
  ((await (await gw.admin(`/admin/accounts/${account}/usage`)).json()) as { data: { type: string; request_id: string | null; cost_micro: number }[] }).data;

describe('a lost admit answer is resent inside the request: no 503 at all', () => {
  it('the admit landed, its reply was lost once: 200, generated once, charged once; the same key replays it', async () => {
    const gw = onUpstash();
    const { key, account } = await gw.issueKey({ credits_micro: 1_000_000, rpm: 1000 });
    await fault(ops(account).admit, 'lost-reply', 1);
    const prompt = uniq('lost admit once');
    const idem = uniq('key');
    const first = await image(gw, key, prompt, idem);
    expect(first.status).toBe(200);
    const body = await first.json();
    expect(await runs(prompt)).toBe(1);
    expect(await gw.balance(account)).toMatchObject({ balance_micro: 967_000, charges: 1 });
    const again = await image(gw, key, prompt, idem);
    expect(again.status).toBe(200);
    expect(again.headers.get('x-phi-cost-micro')).toBe('0');
    expect(await again.json()).toEqual(body);
    expect(await runs(prompt)).toBe(1);
    expect(await gw.balance(account)).toMatchObject({ balance_micro: 967_000, charges: 1 });
    expect(gw.sent).toEqual([]);
    await clear(ops(account).admit);
  });
});

describe('a same-key retry after a 5xx runs again and is charged once', () => {
  it('every admit reply lost (503): the reversal frees the key with the charge; the retry runs at once, one charge in all', async () => {
    const gw = onUpstash();
    const { key, account } = await gw.issueKey({ credits_micro: 1_000_000, rpm: 1000 });
    await fault(ops(account).admit, 'lost-reply', 3); // every attempt of the request's admit
    const prompt = uniq('lost admit');
    const idem = uniq('key');
    const first = await image(gw, key, prompt, idem);
    expect(first.status).toBe(503);
    expect(await errorOf(first)).toMatchObject({ code: 'store_unavailable' });
    expect(await runs(prompt)).toBe(0);
    // The reversal was tried at once (and landed: the store answers again) and is also queued, the key with it.
    expect(gw.sent).toEqual([{ t: 'refund', account, claim: expect.stringMatching(/^img_/), keep: 0, idem: { key: expect.any(String), at: expect.any(Number), ttlSec: 180 } }]);
    expect(await gw.balance(account)).toMatchObject({ balance_micro: 1_000_000, charges: 0 });
    const retry = await image(gw, key, prompt, idem);
    expect(retry.status).toBe(200);
    expect(retry.headers.get('x-phi-cost-micro')).toBe('33000');
    expect(await runs(prompt)).toBe(1);
    // The queued copy of the reversal arrives late: it changes nothing (the retry's own marker and charge stay).
    expect(await gw.deliver()).toBe(0);
    expect(await gw.balance(account)).toMatchObject({ balance_micro: 967_000, charges: 1 });
    expect((await image(gw, key, prompt, idem)).headers.get('x-phi-cost-micro')).toBe('0'); // replayed
    // The usage record: the first attempt's charge with its reversal under the same request, then the retry's.
    const firstId = first.headers.get('x-request-id');
    const lines = await usage(gw, account);
    expect(lines.filter((l) => l.request_id === firstId).map((l) => [l.type, l.cost_micro])).toEqual([
      ['image', 33_000],
      ['refund', -33_000],
    ]);
    expect(lines.filter((l) => l.request_id === retry.headers.get('x-request-id')).map((l) => [l.type, l.cost_micro])).toEqual([['image', 33_000]]);
    await clear(ops(account).admit);
  });

  it('while the store cannot take the reversal: 409 with retry-after and x-should-retry: true; once it lands, the retry runs, charged once', async () => {
    const gw = onUpstash();
    const { key, account } = await gw.issueKey({ credits_micro: 1_000_000, rpm: 1000 });
    await fault(ops(account).admit, 'lost-reply', 3);
    await fault(ops(account).refund, 'fail', 1_000); // the reversal cannot land yet (admits of this claim are gone)
    const prompt = uniq('slow reversal');
    const idem = uniq('key');
    expect((await image(gw, key, prompt, idem)).status).toBe(503);
    await clear(ops(account).admit);
    // The first attempt's marker still stands: a short, bounded wait — said so, and retryable.
    const early = await image(gw, key, prompt, idem);
    expect(early.status).toBe(409);
    expect(early.headers.get('x-should-retry')).toBe('true');
    expect(Number(early.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await errorOf(early)).toMatchObject({ code: 'idempotency_conflict' });
    expect(await gw.balance(account)).toMatchObject({ balance_micro: 967_000, charges: 1 }); // the undelivered charge, still
    // The store takes it: the queue's next delivery voids the charge and frees the key, in that order.
    expect(await gw.deliver()).toBe(1);
    await clear(ops(account).refund);
    expect(await gw.deliver()).toBe(0);
    expect(await gw.balance(account)).toMatchObject({ balance_micro: 1_000_000, charges: 0 });
    const retry = await image(gw, key, prompt, idem);
    expect(retry.status).toBe(200);
    expect(await runs(prompt)).toBe(1);
    expect(await gw.balance(account)).toMatchObject({ balance_micro: 967_000, charges: 1 });
  });

  it('a failed generation whose key release is lost: the release is queued with the refund; the retry runs, charged once', async () => {
    const gw = onUpstash();
    const { key, account } = await gw.issueKey({ credits_micro: 1_000_000, rpm: 1000 });
    await fault(ops(account).release, 'fail', 1_000);
    const prompt = `${uniq('fails once')} #fal-first-1-midbody`; // a broken answer is never retried inside the request
    const idem = uniq('key');
    const first = await image(gw, key, prompt, idem);
    expect(first.status).toBe(502);
    expect(await gw.balance(account)).toMatchObject({ balance_micro: 1_000_000, charges: 0 });
    expect(gw.sent).toEqual([{ t: 'release', account, idem: { key: expect.any(String), at: expect.any(Number), ttlSec: 180 } }]);
    const early = await image(gw, key, prompt, idem);
    expect(early.status).toBe(409);
    expect(early.headers.get('x-should-retry')).toBe('true');
    await clear(ops(account).release);
    expect(await gw.deliver()).toBe(0);
    const retry = await image(gw, key, prompt, idem);
    expect(retry.status).toBe(200);
    expect(await gw.balance(account)).toMatchObject({ balance_micro: 967_000, charges: 1 });
  });
});

describe('a same-key retry after a delivery whose replay record was lost gets the replay', () => {
  it('image: the record is queued; 409 (x-should-retry: true) until it lands, then the same body — one run, one charge', async () => {
    const gw = onUpstash();
    const { key, account } = await gw.issueKey({ credits_micro: 1_000_000, rpm: 1000 });
    await fault(ops(account).remember, 'fail', 1_000);
    const prompt = uniq('lost record');
    const idem = uniq('key');
    const first = await image(gw, key, prompt, idem);
    expect(first.status).toBe(200);
    const body = await first.json();
    expect(gw.sent.map((m) => m.t)).toEqual(['remember']);
    const early = await image(gw, key, prompt, idem);
    expect(early.status).toBe(409);
    expect(early.headers.get('x-should-retry')).toBe('true');
    await clear(ops(account).remember);
    expect(await gw.deliver()).toBe(0);
    const again = await image(gw, key, prompt, idem);
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual(body);
    expect(await runs(prompt)).toBe(1);
    expect(await gw.balance(account)).toMatchObject({ balance_micro: 967_000, charges: 1 });
  });

  it('video: the enqueue record is queued; the retry then replays the same job id, and the watcher follows it', async () => {
    const gw = onUpstash();
    const { key, account } = await gw.issueKey({ credits_micro: 1_000_000, rpm: 1000 });
    await fault(ops(account).remember, 'fail', 1_000);
    const body = JSON.stringify({ prompt: uniq('lost enqueue record'), seconds: 2 });
    const enqueue = () => gw.authed(key, '/v1/videos', { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': 'vk' }, body });
    const first = await enqueue();
    expect(first.status).toBe(200);
    const { id } = (await first.json()) as { id: string };
    expect((await enqueue()).status).toBe(409);
    await clear(ops(account).remember);
    expect(await gw.deliver()).toBe(0);
    const again = await enqueue();
    expect(again.status).toBe(200);
    expect(((await again.json()) as { id: string }).id).toBe(id);
    expect(await gw.balance(account)).toMatchObject({ held_micro: 165_000 }); // one hold, one job
  });
});

describe('the video enqueue: a lost hold answer', () => {
  it('every admit reply lost: 503, the hold released and the key freed together; the retry enqueues one job', async () => {
    const gw = onUpstash();
    const { key, account } = await gw.issueKey({ credits_micro: 1_000_000, rpm: 1000 });
    await fault(ops(account).admit, 'lost-reply', 3);
    const body = JSON.stringify({ prompt: uniq('lost hold'), seconds: 2 });
    const enqueue = () => gw.authed(key, '/v1/videos', { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': 'hk' }, body });
    expect((await enqueue()).status).toBe(503);
    expect(gw.sent).toEqual([{ t: 'release', account, holdId: expect.stringMatching(/^vh_/), idem: { key: expect.any(String), at: expect.any(Number), ttlSec: 180 } }]);
    expect(await gw.balance(account)).toMatchObject({ held_micro: 0 });
    const retry = await enqueue();
    expect(retry.status).toBe(200);
    expect(await gw.deliver()).toBe(0);
    expect(await gw.balance(account)).toMatchObject({ held_micro: 165_000 });
  });
});
