// One contract, two stores: the Durable Object ledger and the Upstash ledger on real Redis.
import { env } from 'cloudflare:test';
import { describe, expect, inject, it } from 'vitest';
import { DurableLedger } from '../src/ledger/durable';
import type { Ledger } from '../src/ledger/types';
import { UpstashLedger } from '../src/ledger/upstash';
import { requireService, uniq } from './helpers';

const upstashUrl = inject('upstashUrl');
requireService('Upstash stand-in (redis-server)', upstashUrl);

const stores: [string, () => Ledger][] = [
  ['durable object', () => new DurableLedger(env.LEDGER)],
  ...(upstashUrl ? [['upstash (real redis)', () => new UpstashLedger({ url: upstashUrl, token: inject('upstashToken') })] as [string, () => Ledger]] : []),
];

describe.each(stores)('ledger contract: %s', (_name, make) => {
  const ledger = make();
  const now = () => Date.now();
  const admit = (account: string, extra: Partial<Parameters<Ledger['admit']>[0]> = {}) =>
    ledger.admit({ account, keyId: 'k1', rpm: 1000, now: now(), ...extra });

  it('issues, finds and revokes keys by hash', async () => {
    const account = uniq('acct');
    const hash = uniq('hash');
    expect(await ledger.findKey(hash)).toBeNull();
    await ledger.issueKey(hash, { keyId: `${hash}-id`, account, tier: 'paid', rpm: 7 }, 5_000);
    expect(await ledger.findKey(hash)).toEqual({ keyId: `${hash}-id`, account, tier: 'paid', rpm: 7 });
    expect((await ledger.account(account, now()))?.balance_micro).toBe(5_000);
    expect(await ledger.revokeKey(`${hash}-id`)).toBe(true);
    expect(await ledger.findKey(hash)).toBeNull();
    expect(await ledger.revokeKey(`${hash}-id`)).toBe(false);
  });

  it('credits and reports balance, holds and usage in integer micro-USD', async () => {
    const account = uniq('acct');
    expect(await ledger.account(account, now())).toBeNull();
    expect(await ledger.credit(account, 100_000, true)).toBe(100_000);
    expect(await ledger.credit(account, 1, true)).toBe(100_001);
    expect(await admit(account, { hold: { id: 'h1', amount: 60_000, ttlSec: 60 } })).toEqual({ ok: true });
    let view = (await ledger.account(account, now()))!;
    expect(view).toMatchObject({ account, balance_micro: 100_001, held_micro: 60_000, spent_micro: 0, charges: 0 });
    const s = await ledger.settle({ account, claim: 'c1', amount: 33_000, holdId: 'h1', memo: 'krea-2 x1', now: now() });
    expect(s).toEqual({ ok: true, charged: true, amount: 33_000, balance: 67_001 });
    view = (await ledger.account(account, now()))!;
    expect(view).toMatchObject({ balance_micro: 67_001, held_micro: 0, spent_micro: 33_000, charges: 1 });
    expect(view.usage).toEqual([expect.objectContaining({ claim: 'c1', amount_micro: 33_000, memo: 'krea-2 x1' })]);
  });

  it('refuses a hold or a charge beyond the available balance', async () => {
    const account = uniq('acct');
    await ledger.credit(account, 50_000, true);
    expect(await admit(account, { hold: { id: 'a', amount: 40_000, ttlSec: 60 } })).toEqual({ ok: true });
    expect(await admit(account, { hold: { id: 'b', amount: 10_001, ttlSec: 60 } })).toEqual({ ok: false, reason: 'insufficient', availableMicro: 10_000 });
    expect(await ledger.settle({ account, claim: 'x', amount: 10_001, memo: '', now: now() })).toEqual({ ok: false, reason: 'insufficient', availableMicro: 10_000 });
    expect(await ledger.settle({ account, claim: 'y', amount: 10_000, memo: '', now: now() })).toMatchObject({ ok: true, charged: true, balance: 40_000 });
    await ledger.release({ account, holdId: 'a' });
    expect((await ledger.account(account, now()))!.held_micro).toBe(0);
  });

  it('re-admitting the same hold id does not hold twice', async () => {
    const account = uniq('acct');
    await ledger.credit(account, 10_000, true);
    await admit(account, { hold: { id: 'same', amount: 8_000, ttlSec: 60 } });
    expect(await admit(account, { hold: { id: 'same', amount: 8_000, ttlSec: 60 } })).toEqual({ ok: true });
    expect((await ledger.account(account, now()))!.held_micro).toBe(8_000);
  });

  it('expires stale holds', async () => {
    const account = uniq('acct');
    await ledger.credit(account, 10_000, true);
    const t = now();
    await ledger.admit({ account, keyId: 'k', rpm: 100, now: t, hold: { id: 'old', amount: 10_000, ttlSec: 1 } });
    expect((await ledger.account(account, t))!.held_micro).toBe(10_000);
    expect((await ledger.account(account, t + 1_001))!.held_micro).toBe(0);
    expect(await ledger.admit({ account, keyId: 'k', rpm: 100, now: t + 1_001, hold: { id: 'new', amount: 10_000, ttlSec: 60 } })).toEqual({ ok: true });
  });

  it('charges a claim id once; a repeat returns the first amount', async () => {
    const account = uniq('acct');
    await ledger.credit(account, 100_000, true);
    expect(await ledger.settle({ account, claim: 'job', amount: 30_000, memo: '', now: now() })).toMatchObject({ charged: true, amount: 30_000 });
    expect(await ledger.settle({ account, claim: 'job', amount: 45_000, memo: '', now: now() })).toMatchObject({ charged: false, amount: 30_000, balance: 70_000 });
  });

  it('100 concurrent charges of distinct claims against a balance for 10 → exactly 10 succeed, balance 0', async () => {
    const account = uniq('acct');
    await ledger.credit(account, 10 * 33_000, true);
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) => ledger.settle({ account, claim: `c${i}`, amount: 33_000, memo: '', now: now() })),
    );
    expect(results.filter((r) => r.ok && r.charged)).toHaveLength(10);
    expect(results.filter((r) => !r.ok)).toHaveLength(90);
    const view = (await ledger.account(account, now()))!;
    expect(view.balance_micro).toBe(0);
    expect(view.charges).toBe(10);
  });

  it('100 concurrent charges of the SAME claim → exactly one debit', async () => {
    const account = uniq('acct');
    await ledger.credit(account, 1_000_000, true);
    const results = await Promise.all(
      Array.from({ length: 100 }, () => ledger.settle({ account, claim: 'one', amount: 88_000, memo: '', now: now() })),
    );
    expect(results.filter((r) => r.ok && r.charged)).toHaveLength(1);
    const view = (await ledger.account(account, now()))!;
    expect(view).toMatchObject({ balance_micro: 912_000, spent_micro: 88_000, charges: 1 });
  });

  it('100 concurrent holds against a balance for 10 never overspend', async () => {
    const account = uniq('acct');
    await ledger.credit(account, 10 * 44_000, true);
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) => admit(account, { hold: { id: `h${i}`, amount: 44_000, ttlSec: 60 } })),
    );
    expect(results.filter((r) => r.ok)).toHaveLength(10);
    expect((await ledger.account(account, now()))!.held_micro).toBe(440_000);
  });

  it('rate-limits per key per minute with a retry-after', async () => {
    const account = uniq('acct');
    const t = Math.floor(now() / 60_000) * 60_000 + 15_000; // 45 s left in this window
    const go = (keyId: string) => ledger.admit({ account, keyId, rpm: 3, now: t });
    expect([await go('k'), await go('k'), await go('k')]).toEqual([{ ok: true }, { ok: true }, { ok: true }]);
    expect(await go('k')).toEqual({ ok: false, reason: 'rate_limited', retryAfterSec: 45 });
    expect(await go('other')).toEqual({ ok: true });
    expect(await ledger.admit({ account, keyId: 'k', rpm: 3, now: t + 45_000 })).toEqual({ ok: true });
  });

  it('idempotency: in flight, then replay of the stored response, mismatch on another body', async () => {
    const account = uniq('acct');
    await ledger.credit(account, 100_000, true);
    const idem = { key: 'idem-1', fingerprint: 'fp-a', pendingTtlSec: 60 };
    expect(await admit(account, { idem, hold: { id: 'h', amount: 33_000, ttlSec: 60 } })).toEqual({ ok: true });
    expect(await admit(account, { idem })).toEqual({ ok: false, reason: 'in_flight' });
    expect(await admit(account, { idem: { ...idem, fingerprint: 'fp-b' } })).toEqual({ ok: false, reason: 'idem_mismatch' });
    await ledger.settle({ account, claim: 'img:1', amount: 33_000, holdId: 'h', memo: '', now: now(), idem: { key: 'idem-1', response: '{"ok":1}', ttlSec: 600 } });
    expect(await admit(account, { idem })).toEqual({ ok: false, reason: 'replay', response: '{"ok":1}' });
  });

  it('release clears an unfinished idempotency marker so a retry can run', async () => {
    const account = uniq('acct');
    const idem = { key: 'idem-2', fingerprint: 'fp', pendingTtlSec: 60 };
    expect(await admit(account, { idem })).toEqual({ ok: true });
    await ledger.release({ account, idemKey: 'idem-2' });
    expect(await admit(account, { idem })).toEqual({ ok: true });
  });
});
