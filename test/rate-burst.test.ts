// The rate limit under a burst (issue 23: the admit got cheaper, the limit must hold as before): 100 concurrent paid
// image requests on a key of 5 requests a minute serve the key's burst of 5 (plus one per 12 s the burst itself
// lasted, GCRA's refill), refuse the rest with 429 rate_limit_exceeded and a retry-after, and charge exactly the
// served ones — on both ledger stores.
import { inject, describe, expect, it } from 'vitest';
import { gateway, requireService, uniq } from './helpers';

const RPM = 5;
const BURST = 100;
const PRICE = 33_000;

async function burst(gw: ReturnType<typeof gateway>) {
  const { key, account } = await gw.issueKey({ credits_micro: 10_000_000, rpm: RPM });
  const started = Date.now();
  const answers = await Promise.all(
    Array.from({ length: BURST }, async () => {
      const res = await gw.authed(key, '/v1/images/generations', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: uniq('burst') }) });
      const body = (await res.json()) as { error?: { code: string } };
      return { status: res.status, code: body.error?.code ?? null, retryAfter: res.headers.get('retry-after') };
    }),
  );
  const spanMs = Date.now() - started;
  const served = answers.filter((a) => a.status === 200).length;
  const refused = answers.filter((a) => a.status === 429);
  // GCRA lets the burst of RPM through, then one request per 60 s / RPM of the burst's own duration.
  expect(served).toBeGreaterThanOrEqual(RPM);
  expect(served).toBeLessThanOrEqual(RPM + Math.ceil(spanMs / (60_000 / RPM)));
  expect(served + refused.length).toBe(BURST);
  for (const r of refused) {
    expect(r.code).toBe('rate_limit_exceeded');
    expect(Number(r.retryAfter)).toBeGreaterThanOrEqual(1);
  }
  const money = await gw.balance(account);
  expect(money).toMatchObject({ balance_micro: 10_000_000 - served * PRICE, held_micro: 0, charges: served });
}

describe(`a burst of ${BURST} concurrent requests on a key of ${RPM} rpm`, () => {
  it('Durable Object ledger: the burst is served, the rest refused, only the served charged', () => burst(gateway({ MEDIA: undefined })));

  it('Upstash ledger: the same', async () => {
    const url = inject('upstashUrl');
    if (!requireService('upstash stand-in', url)) return;
    await burst(gateway({ UPSTASH_REDIS_REST_URL: url, UPSTASH_REDIS_REST_TOKEN: inject('upstashToken'), MEDIA: undefined }));
  });
});
