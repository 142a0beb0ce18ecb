// The hot path's ledger round trips: a warm paid image costs one (admit = rate limit + charge), two with an
// Idempotency-Key (the response is stored for replays); only a failure or a partial result adds a refund.
import { afterEach, describe, expect, inject, it, vi } from 'vitest';
import { DurableLedger } from '../src/ledger/durable/client';
import { decodeJob } from '../src/jobs/id';
import { falOrigin, gateway, requireService, uniq, type Gateway } from './helpers';

const image = (gw: Gateway, key: string, headers: Record<string, string> = {}, prompt = uniq('hot')) =>
  gw.authed(key, '/v1/images/generations', { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ prompt }) });

afterEach(() => vi.restoreAllMocks());

/** Ledger calls made by `work`, as the store sees them. */
async function durableCalls(work: () => Promise<unknown>): Promise<string[]> {
  const calls: string[] = [];
  for (const m of ['findKey', 'admit', 'settle', 'refund', 'release', 'remember', 'account', 'credit', 'audit'] as const) {
    const orig = DurableLedger.prototype[m] as (...a: unknown[]) => unknown;
    vi.spyOn(DurableLedger.prototype, m).mockImplementation(function (this: DurableLedger, ...args: unknown[]) {
      calls.push(m);
      return orig.apply(this, args);
    } as never);
  }
  await work();
  vi.restoreAllMocks();
  return calls;
}

describe('hot path', () => {
  it('Upstash: a warm paid image makes 1 HTTP round trip to Redis; 2 with an Idempotency-Key', async () => {
    const url = inject('upstashUrl');
    if (!requireService('upstash stand-in', url)) return;
    const gw = gateway({ UPSTASH_REDIS_REST_URL: url, UPSTASH_REDIS_REST_TOKEN: inject('upstashToken'), MEDIA: undefined });
    const { key } = await gw.issueKey({ credits_micro: 1_000_000 });
    // Warm-up: caches the key record, and loads both scripts (a first EVALSHA of a script is followed by its EVAL).
    expect((await image(gw, key, { 'idempotency-key': uniq('warm') })).status).toBe(200);
    const spy = vi.spyOn(globalThis, 'fetch');
    const toRedis = () => spy.mock.calls.filter(([input]) => String(input instanceof Request ? input.url : input).startsWith(url)).length;
    expect((await image(gw, key)).status).toBe(200);
    expect(toRedis()).toBe(1);
    expect((await image(gw, key, { 'idempotency-key': uniq('k') })).status).toBe(200);
    expect(toRedis()).toBe(3);
  });

  it('Durable Object: admit only; admit + remember with an Idempotency-Key; admit + refund when it fails', async () => {
    const gw = gateway({ MEDIA: undefined });
    const { key } = await gw.issueKey({ credits_micro: 1_000_000 });
    await image(gw, key);
    expect(await durableCalls(() => image(gw, key))).toEqual(['admit']);
    expect(await durableCalls(() => image(gw, key, { 'idempotency-key': uniq('k') }))).toEqual(['admit', 'remember']);
    expect(await durableCalls(() => image(gw, key, {}, `${uniq('fail')} #fal-500`))).toEqual(['admit', 'refund']);
  });
});

describe('finished videos are cheap to poll', () => {
  const falCalls = async () => (await (await fetch(`${falOrigin()}/__calls`)).json()) as { method: string; path: string }[];

  it.each([undefined, 'bound'])('after settlement a poll is one ledger call and no provider call, then its audit event in the background; so is a download from R2 (MEDIA %s)', async (media) => {
    // No JOBS queue: the watcher's own look must not land among the counted calls.
    const gw = media ? gateway({ JOBS: undefined }) : gateway({ MEDIA: undefined, JOBS: undefined });
    const { key, account } = await gw.issueKey({ credits_micro: 1_000_000, rpm: 1000 });
    const res = await gw.authed(key, '/v1/videos', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: uniq('cheap polls'), seconds: 2 }) });
    const { id } = (await res.json()) as { id: string };
    const requestId = (await decodeJob(gw.env.SIGNING_SECRET!, id, account))!.r;
    await new Promise((r) => setTimeout(r, 1_600));
    const first = (await (await gw.authed(key, `/v1/videos/${id}`)).json()) as { status: string; completed_at: number; url: string };
    expect(first.status).toBe('completed');
    const before = (await falCalls()).length;
    // Only this job's calls (status/result name its request id; the file is its output): other files run meanwhile.
    const file = new URL(first.url).pathname;
    const mine = (c: { path: string }) => c.path.includes(requestId) || c.path === file;
    const polls: { completed_at: number }[] = [];
    const calls = await durableCalls(async () => {
      for (let i = 0; i < 3; i++) polls.push(await (await gw.authed(key, `/v1/videos/${id}`)).json());
    });
    // The answer needs one call (admit: rate limit + the job's record); the audit event is written after it (waitUntil).
    expect(calls).toEqual(['admit', 'audit', 'admit', 'audit', 'admit', 'audit']);
    expect((await falCalls()).slice(before).filter(mine)).toEqual([]);
    // completed_at is the settle's, on every poll.
    expect(polls.map((p) => p.completed_at)).toEqual([first.completed_at, first.completed_at, first.completed_at]);
    const download = await durableCalls(async () => expect((await gw.authed(key, `/v1/videos/${id}/content`)).status).toBe(200));
    expect(download).toEqual(['admit', 'audit']);
    const after = (await falCalls()).slice(before).filter(mine);
    // From R2 nothing upstream at all; without it, only the file itself is read (no status or result call).
    if (media) expect(after).toEqual([]);
    else expect(after.map((c) => c.path)).toEqual([expect.stringMatching(/^\/files\//)]);
  });
});
