// A warm paid image request costs exactly two ledger round trips: reserve (admit) and settle.
import { afterEach, describe, expect, inject, it, vi } from 'vitest';
import { DurableLedger } from '../src/ledger/durable';
import { gateway, requireService, uniq } from './helpers';

const image = (gw: ReturnType<typeof gateway>, key: string) =>
  gw.authed(key, '/v1/images/generations', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: uniq('hot') }) });

afterEach(() => vi.restoreAllMocks());

describe('hot path', () => {
  it('Upstash: a warm request makes 2 HTTP round trips to Redis (key record cached in-isolate)', async () => {
    const url = inject('upstashUrl');
    if (!requireService('upstash stand-in', url)) return;
    const gw = gateway({ UPSTASH_REDIS_REST_URL: url, UPSTASH_REDIS_REST_TOKEN: inject('upstashToken'), MEDIA: undefined });
    const { key } = await gw.issueKey({ credits_micro: 1_000_000 });
    expect((await image(gw, key)).status).toBe(200); // warm-up: loads scripts, caches the key record
    const spy = vi.spyOn(globalThis, 'fetch');
    expect((await image(gw, key)).status).toBe(200);
    const toRedis = spy.mock.calls.filter(([input]) => String(input instanceof Request ? input.url : input).startsWith(url));
    expect(toRedis).toHaveLength(2);
  });

  it('Durable Object: a warm request calls the ledger twice (admit, settle)', async () => {
    const gw = gateway({ MEDIA: undefined });
    const { key } = await gw.issueKey({ credits_micro: 1_000_000 });
    await image(gw, key);
    const calls: string[] = [];
    for (const m of ['findKey', 'admit', 'settle', 'release', 'account', 'credit'] as const) {
      const orig = DurableLedger.prototype[m] as (...a: unknown[]) => unknown;
      vi.spyOn(DurableLedger.prototype, m).mockImplementation(function (this: DurableLedger, ...args: unknown[]) {
        calls.push(m);
        return orig.apply(this, args);
      } as never);
    }
    expect((await image(gw, key)).status).toBe(200);
    expect(calls).toEqual(['admit', 'settle']);
  });
});
