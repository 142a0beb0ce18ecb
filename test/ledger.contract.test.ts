// One contract, two stores: the Durable Object ledger and the Upstash ledger on real Redis.
import { env } from 'cloudflare:test';
import { describe, expect, inject, it } from 'vitest';
import { DurableLedger } from '../src/ledger/durable/client';
import { gcra, type Ledger } from '../src/ledger/types';
import { UpstashLedger } from '../src/ledger/upstash/client';
import { budgetCheck, periodOf } from '../src/ledger/budget';
import { requireService, uniq } from './helpers';

const upstashUrl = inject('upstashUrl');
requireService('Upstash stand-in (redis-server)', upstashUrl);

const stores: [string, () => Ledger][] = [
  ['durable object', () => new DurableLedger(env.LEDGER)],
  ...(upstashUrl ? [['upstash (real redis)', () => new UpstashLedger({ url: upstashUrl, token: inject('upstashToken'), timeoutMs: 10_000 })] as [string, () => Ledger]] : []),
];

describe.each(stores)('ledger contract: %s', (_name, make) => {
  const ledger = make();
  const now = () => Date.now();
  const admit = (account: string, extra: Partial<Parameters<Ledger['admit']>[0]> = {}) =>
    ledger.admit({ account, keyId: 'k1', rpm: 100_000, now: now(), ...extra });
  const view = async (account: string) => (await ledger.account(account, now()))!;

  it('issues, finds and revokes keys by hash', async () => {
    const account = uniq('acct');
    const hash = uniq('hash');
    expect(await ledger.findKey(hash)).toBeNull();
    await ledger.issueKey(hash, { keyId: `${hash}-id`, account, tier: 'paid', rpm: 7 }, 5_000);
    expect(await ledger.findKey(hash)).toEqual({ keyId: `${hash}-id`, account, tier: 'paid', rpm: 7, expiresAt: null });
    expect((await ledger.account(account, now()))?.balance_micro).toBe(5_000);
    expect(await ledger.revokeKey(`${hash}-id`, now())).toBe(account);
    expect(await ledger.findKey(hash)).toBeNull();
    // Idempotent: still revoked, still listed; an unknown id is false.
    expect(await ledger.revokeKey(`${hash}-id`, now())).toBe(account);
    expect(await ledger.revokeKey(`${hash}-nope`, now())).toBeNull();
  });

  it('credits an existing account, refuses an unknown one unless asked to create it', async () => {
    const account = uniq('acct');
    expect(await ledger.account(account, now())).toBeNull();
    expect(await ledger.credit(account, 5, false)).toBeNull();
    expect(await ledger.account(account, now())).toBeNull();
    expect(await ledger.credit(account, 100_000, true)).toBe(100_000);
    expect(await ledger.credit(account, 1, false)).toBe(100_001);
  });

  it("lists an account's keys (label, created, expiry, revocation, last use) and accounts by name, in pages", async () => {
    const account = uniq('keys');
    const [h1, h2] = [uniq('h'), uniq('h')];
    await ledger.issueKey(h1, { keyId: `${h1}-id`, account, tier: 'paid', rpm: 5 }, 100, { label: 'backend', createdAt: 1_790_000_000 });
    await ledger.issueKey(h2, { keyId: `${h2}-id`, account, tier: 'paid', rpm: 6, expiresAt: 1_890_000_000 }, 0, { label: null, createdAt: 1_790_000_100 });
    expect((await ledger.findKey(h2))?.expiresAt).toBe(1_890_000_000);
    await admit(account, { keyId: `${h1}-id` });
    await ledger.revokeKey(`${h2}-id`, 1_790_000_500_000);
    const keys = await ledger.listKeys(account);
    expect(keys).toHaveLength(2);
    expect(keys[0]).toMatchObject({ keyId: `${h1}-id`, label: 'backend', tier: 'paid', rpm: 5, createdAt: 1_790_000_000, expiresAt: null, revokedAt: null });
    expect(keys[0]!.lastUsedAt).toBeGreaterThan(1_790_000_000);
    expect(keys[1]).toMatchObject({ keyId: `${h2}-id`, label: null, expiresAt: 1_890_000_000, revokedAt: 1_790_000_500, lastUsedAt: null });
    const other = uniq('zz-acct');
    await ledger.credit(other, 1, true);
    const names: string[] = [];
    let after: string | null = null;
    for (let i = 0; i < 1000; i++) {
      const page: { accounts: string[]; hasMore: boolean } = await ledger.listAccounts(after, 50);
      names.push(...page.accounts);
      if (!page.hasMore) break;
      after = page.accounts.at(-1)!;
    }
    expect(names).toContain(account);
    expect(names).toContain(other);
    expect([...names].sort()).toEqual(names);
    expect(new Set(names).size).toBe(names.length);
  });

  it('adjusts a balance by a signed amount with a reason, never below zero available (holds count)', async () => {
    const account = uniq('adj');
    expect(await ledger.adjust({ account, amount: 5, reason: 'x', id: 'adj-0', now: now() })).toEqual({ ok: false, reason: 'no_account' });
    await ledger.credit(account, 1_000, true);
    await admit(account, { hold: { id: 'h-adj', amount: 600, ttlSec: 60 } });
    expect(await ledger.adjust({ account, amount: -401, reason: 'too much', id: 'adj-1', now: now() })).toEqual({ ok: false, reason: 'insufficient', availableMicro: 400 });
    expect(await ledger.adjust({ account, amount: -400, reason: 'correction', id: 'adj-2', now: now() })).toEqual({ ok: true, balance: 600 });
    expect(await ledger.adjust({ account, amount: 250, reason: 'refund of a bad render', id: 'adj-3', now: now() })).toEqual({ ok: true, balance: 850 });
    const v = await view(account);
    expect(v).toMatchObject({ balance_micro: 850, held_micro: 600, spent_micro: 0 });
    expect(v.usage.map((u) => [u.claim, u.amount_micro, u.memo])).toEqual(
      expect.arrayContaining([['adj-2', 400, 'adjustment: correction'], ['adj-3', -250, 'adjustment: refund of a bad render']]),
    );
  });

  it('keeps an audit trail per account, by time, dropping what is older than the retention', async () => {
    const [a, b] = [uniq('audit'), uniq('audit')];
    const ev = (at: number, type: string) => ({ at, type, request_id: `req_${at}`, key_id: null, detail: { n: 1 } });
    await ledger.audit(a, [ev(1_000, 'old')], 10_000);
    await ledger.audit(a, [ev(5_000, 'x'), ev(5_000, 'x')], 10_000); // the same instant twice: both kept
    await ledger.audit(b, [ev(6_000, 'other')], 10_000);
    expect((await ledger.auditLog(a, 0, 100_000, 100)).map((e) => e.type)).toEqual(['old', 'x', 'x']);
    await ledger.audit(a, [ev(20_000, 'late')], 10_000); // drops what is older than 10 000 ms before it
    expect(await ledger.auditLog(a, 0, 100_000, 100)).toEqual([ev(20_000, 'late')]);
    expect((await ledger.auditLog(a, 0, 19_999, 100))).toEqual([]);
    expect((await ledger.auditLog(b, 0, 100_000, 100)).map((e) => e.type)).toEqual(['other']);
  });

  it("stores an account's webhook endpoint: only for an existing account, replaced, removed, per account", async () => {
    const [a, b] = [uniq('hook'), uniq('hook')];
    const hook = { url: 'https://hooks.example.com/a', nonce: 'n1', createdAt: 1_790_000_000 };
    expect(await ledger.setWebhook(a, hook)).toBe(false);
    expect(await ledger.getWebhook(a)).toBeNull();
    await ledger.credit(a, 1, true);
    await ledger.credit(b, 1, true);
    expect(await ledger.getWebhook(a)).toBeNull();
    expect(await ledger.setWebhook(a, hook)).toBe(true);
    expect(await ledger.getWebhook(a)).toEqual(hook);
    expect(await ledger.getWebhook(b)).toBeNull();
    const replaced = { url: 'https://hooks.example.com/a2', nonce: 'n2', createdAt: 1_790_000_100 };
    expect(await ledger.setWebhook(a, replaced)).toBe(true);
    expect(await ledger.getWebhook(a)).toEqual(replaced);
    expect(await ledger.setWebhook(b, hook)).toBe(true);
    expect(await ledger.setWebhook(a, null)).toBe(true);
    expect(await ledger.setWebhook(a, null)).toBe(true);
    expect(await ledger.getWebhook(a)).toBeNull();
    expect(await ledger.getWebhook(b)).toEqual(hook);
  });

  it('charges at admit, once per claim id, and reports balance, spent and usage in integer micro-USD', async () => {
    const account = uniq('acct');
    await ledger.credit(account, 100_000, true);
    const charge = { id: 'img_1', amount: 33_000, memo: 'krea-2 x1' };
    expect(await admit(account, { charge })).toEqual({ ok: true });
    // Sent again (its reply was lost): a no-op.
    expect(await admit(account, { charge })).toEqual({ ok: true });
    const v = await view(account);
    expect(v).toMatchObject({ account, balance_micro: 67_000, held_micro: 0, spent_micro: 33_000, charges: 1 });
    expect(v.usage).toEqual([expect.objectContaining({ claim: 'img_1', amount_micro: 33_000, memo: 'krea-2 x1' })]);
  });

  it('refunds down to what was delivered, idempotently; a full refund voids the claim', async () => {
    const account = uniq('acct');
    await ledger.credit(account, 200_000, true);
    await admit(account, { charge: { id: 'c', amount: 99_000, memo: 'krea-2 x3' } });
    expect(await ledger.refund({ account, claim: 'c', keep: 33_000, now: now() })).toBe(33_000);
    expect(await ledger.refund({ account, claim: 'c', keep: 33_000, now: now() })).toBe(33_000);
    expect(await ledger.refund({ account, claim: 'c', keep: 66_000, now: now() })).toBe(33_000); // never raises a charge
    expect(await view(account)).toMatchObject({ balance_micro: 167_000, spent_micro: 33_000, charges: 1 });
    expect(await ledger.refund({ account, claim: 'c', keep: 0, now: now() })).toBe(0);
    expect(await view(account)).toMatchObject({ balance_micro: 200_000, spent_micro: 0, charges: 0 });
    // A voided claim cannot be charged again by a late resend of its admit.
    expect(await admit(account, { charge: { id: 'c', amount: 99_000, memo: '' } })).toEqual({ ok: false, reason: 'void' });
    expect((await view(account)).balance_micro).toBe(200_000);
  });

  it('voiding a claim whose charge has not landed yet refuses that charge when it does', async () => {
    const account = uniq('acct');
    await ledger.credit(account, 50_000, true);
    expect(await ledger.refund({ account, claim: 'late', keep: 0, now: now() })).toBe(0);
    expect(await admit(account, { charge: { id: 'late', amount: 33_000, memo: '' } })).toEqual({ ok: false, reason: 'void' });
    expect(await view(account)).toMatchObject({ balance_micro: 50_000, charges: 0 });
  });

  it('refuses a charge or hold beyond the available balance (holds count against it)', async () => {
    const account = uniq('acct');
    await ledger.credit(account, 50_000, true);
    expect(await admit(account, { hold: { id: 'a', amount: 40_000, ttlSec: 60 } })).toEqual({ ok: true });
    expect(await admit(account, { hold: { id: 'b', amount: 10_001, ttlSec: 60 } })).toEqual({ ok: false, reason: 'insufficient', availableMicro: 10_000 });
    expect(await admit(account, { charge: { id: 'x', amount: 10_001, memo: '' } })).toEqual({ ok: false, reason: 'insufficient', availableMicro: 10_000 });
    expect(await ledger.settle({ account, claim: 'y', amount: 10_001, memo: '', now: now() })).toEqual({ ok: false, reason: 'insufficient', availableMicro: 10_000 });
    expect(await ledger.settle({ account, claim: 'y', amount: 10_000, memo: '', now: now() })).toMatchObject({ ok: true, charged: true, balance: 40_000 });
    await ledger.release({ account, holdId: 'a', now: now() });
    expect((await view(account)).held_micro).toBe(0);
  });

  it('a hold is made once per id, settled into a charge once per claim, and a released hold cannot come back', async () => {
    const account = uniq('acct');
    await ledger.credit(account, 100_000, true);
    await admit(account, { hold: { id: 'same', amount: 80_000, ttlSec: 60 } });
    expect(await admit(account, { hold: { id: 'same', amount: 80_000, ttlSec: 60 } })).toEqual({ ok: true });
    expect((await view(account)).held_micro).toBe(80_000);
    expect(await ledger.settle({ account, claim: 'job', amount: 30_000, holdId: 'same', memo: '', now: now() })).toMatchObject({ charged: true, amount: 30_000 });
    expect(await ledger.settle({ account, claim: 'job', amount: 45_000, holdId: 'same', memo: '', now: now() })).toMatchObject({ charged: false, amount: 30_000, balance: 70_000 });
    expect(await view(account)).toMatchObject({ held_micro: 0, balance_micro: 70_000 });
    await admit(account, { hold: { id: 'gone', amount: 10_000, ttlSec: 60 } });
    await ledger.release({ account, holdId: 'gone', now: now() });
    expect(await admit(account, { hold: { id: 'gone', amount: 10_000, ttlSec: 60 } })).toEqual({ ok: false, reason: 'void' });
    expect((await view(account)).held_micro).toBe(0);
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

  it('100 concurrent charges of distinct claims against a balance for 10 → exactly 10 succeed, balance 0', async () => {
    const account = uniq('acct');
    await ledger.credit(account, 10 * 33_000, true);
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => admit(account, { charge: { id: `c${i}`, amount: 33_000, memo: '' } })));
    expect(results.filter((r) => r.ok)).toHaveLength(10);
    expect(results.filter((r) => !r.ok && r.reason === 'insufficient')).toHaveLength(90);
    expect(await view(account)).toMatchObject({ balance_micro: 0, charges: 10 });
  });

  it('100 concurrent admits and settles of the SAME claim → exactly one debit', async () => {
    const account = uniq('acct');
    await ledger.credit(account, 1_000_000, true);
    const admits = await Promise.all(Array.from({ length: 100 }, () => admit(account, { charge: { id: 'one', amount: 88_000, memo: '' } })));
    expect(admits.every((r) => r.ok)).toBe(true);
    const settles = await Promise.all(Array.from({ length: 100 }, () => ledger.settle({ account, claim: 'vid', amount: 88_000, memo: '', now: now() })));
    expect(settles.filter((r) => r.ok && r.charged)).toHaveLength(1);
    expect(await view(account)).toMatchObject({ balance_micro: 824_000, spent_micro: 176_000, charges: 2 });
  });

  it('100 concurrent refunds of one claim → refunded once', async () => {
    const account = uniq('acct');
    await ledger.credit(account, 500_000, true);
    await admit(account, { charge: { id: 'r', amount: 132_000, memo: '' } });
    const out = await Promise.all(Array.from({ length: 100 }, (_, i) => ledger.refund({ account, claim: 'r', keep: i % 2 ? 33_000 : 0, now: now() })));
    expect(out.every((n) => n === 0 || n === 33_000)).toBe(true);
    expect(await view(account)).toMatchObject({ balance_micro: 500_000, spent_micro: 0, charges: 0 });
  });

  it('100 concurrent holds against a balance for 10 never overspend', async () => {
    const account = uniq('acct');
    await ledger.credit(account, 10 * 44_000, true);
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => admit(account, { hold: { id: `h${i}`, amount: 44_000, ttlSec: 60 } })));
    expect(results.filter((r) => r.ok)).toHaveLength(10);
    expect((await view(account)).held_micro).toBe(440_000);
  });

  it('rate limit is smooth (GCRA): a burst of rpm, then one per 60 s / rpm — no minute boundary to straddle', async () => {
    const account = uniq('acct');
    const go = (keyId: string, t: number) => ledger.admit({ account, keyId, rpm: 3, now: t });
    // Three requests just before a minute boundary, then three just after it: fixed windows would admit all six.
    const t = Math.floor(now() / 60_000) * 60_000 + 59_500;
    expect([await go('k', t), await go('k', t), await go('k', t)]).toEqual([{ ok: true }, { ok: true }, { ok: true }]);
    expect(await go('k', t + 1_000)).toEqual({ ok: false, reason: 'rate_limited', retryAfterSec: 19 });
    expect(await go('k', t + 1_000 + 10_000)).toMatchObject({ ok: false, reason: 'rate_limited' });
    expect(await go('other', t + 1_000)).toEqual({ ok: true });
    // One request per interval (20 s) comes back; the burst does not.
    expect(await go('k', t + 20_000)).toEqual({ ok: true });
    expect(await go('k', t + 20_000)).toMatchObject({ ok: false, reason: 'rate_limited' });
    expect(await go('k', t + 40_000)).toEqual({ ok: true });
  });

  it('a job recorded when its enqueue completes is read back by a lookup; its settle stores the final state once', async () => {
    const account = uniq('acct');
    await ledger.credit(account, 1_000_000, true);
    const t = Math.floor(now() / 1000);
    expect(await admit(account, { hold: { id: 'vh1', amount: 363_000, ttlSec: 60 } })).toEqual({ ok: true });
    await ledger.remember({ account, now: now(), job: { key: 'video:fal:r1', id: 'video_public1', createdAt: t, meta: '{"r":"req_1","k":"key_1"}' } });
    await ledger.remember({ account, now: now(), job: { key: 'video:fal:r1', id: 'video_other', createdAt: t + 5 } }); // kept as first written
    expect(await admit(account, { keyId: 'reads', lookup: 'video:fal:r1' })).toMatchObject({ ok: true, job: { key: 'video:fal:r1', id: 'video_public1', createdAt: t, state: null, from: null, meta: '{"r":"req_1","k":"key_1"}' } });
    expect(await admit(account, { keyId: 'reads', lookup: 'video:fal:nope' })).toEqual({ ok: true, job: null });
    const first = await ledger.settle({ account, claim: 'video:fal:r1', amount: 363_000, holdId: 'vh1', memo: '', now: now(), state: '{"s":"completed","at":1}' });
    expect(first).toMatchObject({ ok: true, charged: true, state: '{"s":"completed","at":1}' });
    const again = await ledger.settle({ account, claim: 'video:fal:r1', amount: 363_000, holdId: 'vh1', memo: '', now: now(), state: '{"s":"completed","at":2}' });
    expect(again).toMatchObject({ ok: true, charged: false, amount: 363_000, state: '{"s":"completed","at":1}' });
    expect(await admit(account, { keyId: 'reads', lookup: 'video:fal:r1' })).toMatchObject({
      ok: true,
      job: { key: 'video:fal:r1', id: 'video_public1', createdAt: t, state: '{"s":"completed","at":1}', from: null, meta: '{"r":"req_1","k":"key_1"}' },
    });
    expect(await view(account)).toMatchObject({ balance_micro: 637_000, held_micro: 0, charges: 1 });
  });

  it("lists an account's jobs in pages, either order, after a position; a deleted job leaves the list", async () => {
    const account = uniq('acct');
    const t = 1_790_000_000;
    // Seven jobs over four seconds (several in the same second: the key breaks the tie).
    const keys = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
    for (const [i, k] of keys.entries()) await ledger.remember({ account, now: now(), job: { key: `video:fal:${k}`, id: `video_${k}`, createdAt: t + Math.floor(i / 2), from: k === 'c' ? 'video_a' : undefined } });
    const page = async (order: 'asc' | 'desc', limit: number, after?: { createdAt: number; key: string }) => {
      const r = await admit(account, { keyId: 'reads', list: { order, limit, after } });
      if (!r.ok) throw new Error('refused');
      return { ids: r.jobs!.map((j) => j.id), hasMore: r.hasMore, last: r.jobs!.at(-1)! };
    };
    const first = await page('asc', 3);
    expect(first).toMatchObject({ ids: ['video_a', 'video_b', 'video_c'], hasMore: true });
    expect(first.last).toMatchObject({ key: 'video:fal:c', from: 'video_a', createdAt: t + 1 });
    const second = await page('asc', 3, { createdAt: first.last.createdAt, key: first.last.key });
    expect(second).toMatchObject({ ids: ['video_d', 'video_e', 'video_f'], hasMore: true });
    const third = await page('asc', 3, { createdAt: second.last.createdAt, key: second.last.key });
    expect(third).toMatchObject({ ids: ['video_g'], hasMore: false });
    expect((await page('desc', 4)).ids).toEqual(['video_g', 'video_f', 'video_e', 'video_d']);
    expect((await page('desc', 10, { createdAt: t + 2, key: 'video:fal:e' })).ids).toEqual(['video_d', 'video_c', 'video_b', 'video_a']);

    expect(await ledger.discard({ account, key: 'video:fal:d', state: '{"s":"deleted"}', now: now() })).toBe(true);
    expect(await ledger.discard({ account, key: 'video:fal:d', state: '{"s":"deleted"}', now: now() })).toBe(false);
    expect((await page('asc', 10)).ids).toEqual(['video_a', 'video_b', 'video_c', 'video_e', 'video_f', 'video_g']);
    expect(await admit(account, { keyId: 'reads', lookup: 'video:fal:d' })).toMatchObject({ ok: true, job: { state: '{"s":"deleted"}' } });
  });

  it('deleting an unsettled job releases its hold and settles it at 0, so its completion charges nothing', async () => {
    const account = uniq('acct');
    await ledger.credit(account, 1_000_000, true);
    await admit(account, { hold: { id: 'vh-del', amount: 363_000, ttlSec: 60 } });
    await ledger.remember({ account, now: now(), job: { key: 'video:fal:del', id: 'video_del', createdAt: 1 } });
    expect(await ledger.discard({ account, key: 'video:fal:del', holdId: 'vh-del', state: '{"s":"deleted"}', now: now() })).toBe(true);
    expect(await view(account)).toMatchObject({ held_micro: 0, balance_micro: 1_000_000 });
    const late = await ledger.settle({ account, claim: 'video:fal:del', amount: 363_000, holdId: 'vh-del', memo: '', now: now(), state: '{"s":"completed"}' });
    expect(late).toMatchObject({ ok: true, charged: false, amount: 0, state: '{"s":"deleted"}' });
    expect(await view(account)).toMatchObject({ balance_micro: 1_000_000, charges: 0 });
  });

  it('idempotency: in flight, then replay of the stored response, mismatch on another body', async () => {
    const account = uniq('acct');
    await ledger.credit(account, 100_000, true);
    const idem = { key: 'idem-1', fingerprint: 'fp-a', pendingTtlSec: 60 };
    expect(await admit(account, { idem, charge: { id: 'i1', amount: 33_000, memo: '' } })).toEqual({ ok: true });
    expect(await admit(account, { idem })).toEqual({ ok: false, reason: 'in_flight' });
    expect(await admit(account, { idem: { ...idem, fingerprint: 'fp-b' } })).toEqual({ ok: false, reason: 'idem_mismatch' });
    await ledger.remember({ account, now: now(), idem: { key: 'idem-1', fingerprint: 'fp-a', response: '{"ok":1}', ttlSec: 600 } });
    expect(await admit(account, { idem })).toEqual({ ok: false, reason: 'replay', response: '{"ok":1}' });
    expect(await admit(account, { idem: { ...idem, fingerprint: 'fp-b' } })).toEqual({ ok: false, reason: 'idem_mismatch' });
  });

  it('release clears an unfinished idempotency marker so a retry can run; a finished one stays', async () => {
    const account = uniq('acct');
    const idem = { key: 'idem-2', fingerprint: 'fp', pendingTtlSec: 60 };
    expect(await admit(account, { idem })).toEqual({ ok: true });
    await ledger.release({ account, idemKey: 'idem-2', now: now() });
    expect(await admit(account, { idem })).toEqual({ ok: true });
    await ledger.remember({ account, now: now(), idem: { key: 'idem-2', fingerprint: 'fp', response: 'done', ttlSec: 600 } });
    await ledger.release({ account, idemKey: 'idem-2', now: now() });
    expect(await admit(account, { idem })).toEqual({ ok: false, reason: 'replay', response: 'done' });
  });

  it("a release naming the marker's owner (its admit's now and pending TTL) clears that marker only, never a retry's", async () => {
    const account = uniq('acct');
    const idem = { key: 'idem-3', fingerprint: 'fp', pendingTtlSec: 60 };
    const first = now();
    expect(await admit(account, { idem, now: first })).toEqual({ ok: true });
    // Another owner (a retry's marker, set at another time): kept.
    await ledger.release({ account, idemKey: 'idem-3', idemOwner: { at: first + 1, ttlSec: 60 }, now: now() });
    expect(await admit(account, { idem })).toEqual({ ok: false, reason: 'in_flight' });
    // Its own: cleared; the retry then sets its own marker, which a late copy of the first release leaves alone.
    await ledger.release({ account, idemKey: 'idem-3', idemOwner: { at: first, ttlSec: 60 }, now: now() });
    const retry = first + 5;
    expect(await admit(account, { idem, now: retry })).toEqual({ ok: true });
    await ledger.release({ account, idemKey: 'idem-3', idemOwner: { at: first, ttlSec: 60 }, now: now() });
    expect(await admit(account, { idem })).toEqual({ ok: false, reason: 'in_flight' });
    // Concurrent releases of the same owner and retries: exactly one retry gets the key.
    await ledger.release({ account, idemKey: 'idem-3', idemOwner: { at: retry, ttlSec: 60 }, now: now() });
    const racers = await Promise.all(Array.from({ length: 8 }, (_, i) => admit(account, { idem, now: retry + 10 + i })));
    expect(racers.filter((r) => r.ok)).toHaveLength(1);
    // A finished record is never cleared, by any owner.
    await ledger.remember({ account, now: now(), idem: { key: 'idem-3', fingerprint: 'fp', response: 'done', ttlSec: 600 } });
    for (const at of [first, retry, retry + 10]) await ledger.release({ account, idemKey: 'idem-3', idemOwner: { at, ttlSec: 60 }, now: now() });
    expect(await admit(account, { idem })).toEqual({ ok: false, reason: 'replay', response: 'done' });
  });

  it('erases an account: refused with money unless forced; keys, money, usage, jobs, idempotency and webhook go, the tombstone stays; idempotent', async () => {
    const account = uniq('erase');
    const [h1, h2] = [uniq('h'), uniq('h')];
    await ledger.issueKey(h1, { keyId: `${h1}-id`, account, tier: 'paid', rpm: 5 }, 100_000);
    await ledger.issueKey(h2, { keyId: `${h2}-id`, account, tier: 'paid', rpm: 5 }, 0);
    await ledger.revokeKey(`${h2}-id`, now());
    await admit(account, { keyId: `${h1}-id`, charge: { id: 'c1', amount: 33_000, memo: 'm' } });
    await admit(account, { hold: { id: 'h1', amount: 10_000, ttlSec: 60 } });
    await ledger.remember({ account, now: now(), idem: { key: 'i1', fingerprint: 'fp', response: 'r', ttlSec: 600 }, job: { key: 'video:fal:r1', id: 'video_one', createdAt: 1 } });
    await ledger.setWebhook(account, { url: 'https://hooks.example.com/x', nonce: 'n', createdAt: 1 });
    expect(await ledger.eraseAccount({ account, force: false, now: now() })).toEqual({ ok: false, reason: 'not_empty', balance: 67_000, held: 10_000 });
    expect((await view(account)).balance_micro).toBe(67_000);
    const r = await ledger.eraseAccount({ account, force: true, now: now(), requestId: 'req_erase', auditRetentionMs: 86_400_000 });
    expect(r).toEqual({ ok: true, already: false, balance: 67_000, held: 10_000, keys: 2, jobIds: ['video_one'] });
    expect(await ledger.findKey(h1)).toBeNull();
    expect(await ledger.listKeys(account)).toEqual([]);
    expect(await ledger.account(account, now())).toBeNull();
    expect(await ledger.usage(account, 0, now() + 1, 100)).toEqual([]);
    expect(await ledger.getWebhook(account)).toBeNull();
    expect(await ledger.revokeKey(`${h1}-id`, now())).toBeNull();
    expect((await ledger.listAccounts(account.slice(0, -1), 10)).accounts).not.toContain(account);
    const lookup = await admit(account, { lookup: 'video:fal:r1', idem: { key: 'i1', fingerprint: 'other', pendingTtlSec: 1 } });
    expect(lookup).toEqual({ ok: true, job: null });
    const trail = await ledger.auditLog(account, 0, now() + 1, 100);
    expect(trail).toEqual([
      { at: expect.any(Number), type: 'account.erased', request_id: 'req_erase', key_id: null, detail: { forfeited_micro: 67_000, released_hold_micro: 10_000, keys_deleted: 2, jobs_deleted: 1, forced: true } },
    ]);
    expect(await ledger.eraseAccount({ account, force: false, now: now() })).toEqual({ ok: true, already: true, balance: 0, held: 0, keys: 0, jobIds: [] });
    expect(await ledger.auditLog(account, 0, now() + 1, 100)).toHaveLength(1);
    expect(await ledger.eraseAccount({ account: uniq('never'), force: false, now: now() })).toMatchObject({ ok: true, already: true });
  });
});

describe('GCRA', () => {
  it('admits at most rpm at once and then exactly the rate (property over random arrival times)', () => {
    for (const rpm of [1, 3, 10, 60, 600]) {
      let tat: number | null = null;
      let t = 0;
      const admitted: number[] = [];
      for (let i = 0; i < 2_000; i++) {
        t += Math.floor(Math.random() * (120_000 / rpm));
        const r = gcra(tat, t, rpm);
        if (r.ok) {
          tat = r.tat;
          admitted.push(t);
        }
      }
      // Never more than rpm within any interval shorter than 60 s / rpm × (rpm - 1) … and never above the rate
      // beyond the burst: admitted[i + rpm] is at least 60 s after admitted[i] minus one interval.
      for (let i = 0; i + rpm < admitted.length; i++) expect(admitted[i + rpm]! - admitted[i]!).toBeGreaterThanOrEqual(60_000 / rpm - 1e-6);
    }
  });
});

// Per-key budgets (issue 21): the key's spend counter is checked and moved in the same atomic admit as the balance.
describe.each(stores)('ledger contract, per-key budgets: %s', (_name, make) => {
  const ledger = make();
  const now = () => Date.now();
  const budgetOf = (id: string, limit: number) => ({ id, limit, until: 0 });
  const charge = (account: string, id: string, amount: number, budget = budgetOf('k1:total:0', 100_000), t = now()) =>
    ledger.admit({ account, keyId: 'k1', rpm: 100_000, now: t, charge: { id, amount, memo: '{"t":"image","m":"krea-2"}' }, budget, model: 'krea-2' });
  const hold = (account: string, id: string, amount: number, budget = budgetOf('k1:total:0', 100_000), t = now()) =>
    ledger.admit({ account, keyId: 'k1', rpm: 100_000, now: t, hold: { id, amount, ttlSec: 600 }, budget, model: 'wan' });
  const counter = async (account: string, id = 'k1:total:0', t = now()) => (await ledger.account(account, t, id))!.counter;

  it('charges and holds count against the budget like against the balance; refunds, releases and settles give back', async () => {
    const account = uniq('budget');
    await ledger.credit(account, 1_000_000, true);
    expect(await charge(account, 'c1', 33_000)).toEqual({ ok: true });
    expect(await charge(account, 'c2', 33_000)).toEqual({ ok: true });
    expect(await charge(account, 'c2', 33_000)).toEqual({ ok: true }); // a resend counts once
    expect(await hold(account, 'h1', 30_000)).toEqual({ ok: true });
    expect(await counter(account)).toEqual({ charged: 66_000, held: 30_000 });
    expect(await charge(account, 'c3', 33_000)).toEqual({ ok: false, reason: 'budget_exceeded', remainingMicro: 4_000 });
    expect(await hold(account, 'h2', 4_001)).toEqual({ ok: false, reason: 'budget_exceeded', remainingMicro: 4_000 });
    // A refused request moved nothing: not the balance, not the counter, and its claim can be charged later.
    expect((await ledger.account(account, now()))!).toMatchObject({ balance_micro: 934_000, held_micro: 30_000 });
    await ledger.release({ account, holdId: 'h1', now: now() });
    expect(await charge(account, 'c3', 33_000)).toEqual({ ok: true });
    expect(await counter(account)).toEqual({ charged: 99_000, held: 0 });
    expect(await ledger.refund({ account, claim: 'c3', keep: 0, now: now() })).toBe(0);
    expect(await ledger.refund({ account, claim: 'c2', keep: 11_000, now: now() })).toBe(11_000);
    expect(await ledger.refund({ account, claim: 'c2', keep: 11_000, now: now() })).toBe(11_000); // once
    expect(await counter(account)).toEqual({ charged: 44_000, held: 0 });
    // A hold settles into its charge under the same counter (the reservation becomes what was billed).
    expect(await hold(account, 'h3', 50_000)).toEqual({ ok: true });
    expect(await counter(account)).toEqual({ charged: 44_000, held: 50_000 });
    expect(await ledger.settle({ account, claim: 'job', amount: 20_000, holdId: 'h3', memo: '', now: now() })).toMatchObject({ ok: true, charged: true });
    expect(await ledger.settle({ account, claim: 'job', amount: 20_000, holdId: 'h3', memo: '', now: now() })).toMatchObject({ ok: true, charged: false });
    expect(await counter(account)).toEqual({ charged: 64_000, held: 0 });
    expect(await charge(account, 'c4', 36_000)).toEqual({ ok: true }); // exactly the budget
    expect(await charge(account, 'c5', 1)).toEqual({ ok: false, reason: 'budget_exceeded', remainingMicro: 0 });
    // Another key's counter is its own; $0 and unbudgeted requests are not limited by it.
    expect(await charge(account, 'c6', 33_000, budgetOf('k2:total:0', 50_000))).toEqual({ ok: true });
    expect(await charge(account, 'c7', 0)).toEqual({ ok: true });
    expect(await ledger.admit({ account, keyId: 'k1', rpm: 100_000, now: now(), charge: { id: 'c8', amount: 33_000, memo: '' } })).toEqual({ ok: true });
    // The balance is still checked first.
    const poor = uniq('budget');
    await ledger.credit(poor, 10_000, true);
    expect(await charge(poor, 'p1', 20_000)).toEqual({ ok: false, reason: 'insufficient', availableMicro: 10_000 });
    // Refusals are counted per minute, key, model and code (statistics).
    const { refusals } = await ledger.activity(account, now() - 60_000, now() + 60_000);
    expect(refusals.filter((r) => r.code === 'budget_exceeded').reduce((n, r) => n + r.n, 0)).toBe(3);
    expect(refusals.find((r) => r.code === 'budget_exceeded' && r.model === 'wan')).toMatchObject({ keyId: 'k1', n: 1 });
    expect((await ledger.activity(poor, now() - 60_000, now() + 60_000)).refusals).toEqual([expect.objectContaining({ code: 'insufficient_quota', keyId: 'k1', model: 'krea-2', n: 1 })]);
  });

  it('30 concurrent charges (and 30 concurrent holds) against a budget that covers 7 → exactly 7 served', async () => {
    const account = uniq('budget');
    await ledger.credit(account, 10_000_000, true);
    const b = budgetOf('k1:month:1', 7 * 33_000 + 32_999);
    const charges = await Promise.all(Array.from({ length: 30 }, (_, i) => charge(account, `cc${i}`, 33_000, b)));
    expect(charges.filter((r) => r.ok)).toHaveLength(7);
    expect(charges.filter((r) => !r.ok && r.reason === 'budget_exceeded')).toHaveLength(23);
    expect(await counter(account, b.id)).toEqual({ charged: 7 * 33_000, held: 0 });
    expect((await ledger.account(account, now()))!.balance_micro).toBe(10_000_000 - 7 * 33_000);
    const h = budgetOf('k1:month:2', 7 * 88_000);
    const holds = await Promise.all(Array.from({ length: 30 }, (_, i) => hold(account, `hh${i}`, 88_000, h)));
    expect(holds.filter((r) => r.ok)).toHaveLength(7);
    expect(await counter(account, h.id)).toEqual({ charged: 0, held: 7 * 88_000 });
  });

  it('a period rollover mid-burst stays exact: each period serves exactly its budget; a hold settles into the period it was made in', async () => {
    const account = uniq('budget');
    await ledger.credit(account, 10_000_000, true);
    const budget = { micro: 7 * 33_000, period: 'day' as const };
    const midnight = Math.ceil(now() / 86_400_000) * 86_400_000;
    // 30 requests at once, alternating between the last millisecond of one day and the first of the next.
    const times = Array.from({ length: 30 }, (_, i) => (i % 2 ? midnight : midnight - 1));
    const results = await Promise.all(times.map((t, i) => charge(account, `r${i}`, 33_000, budgetCheck('k1', budget, t), t)));
    const served = (day: number) => results.filter((r, i) => r.ok && times[i] === day).length;
    expect([served(midnight - 1), served(midnight)]).toEqual([7, 7]);
    expect(await counter(account, budgetCheck('k1', budget, midnight - 1).id, midnight)).toEqual({ charged: 7 * 33_000, held: 0 });
    expect(await counter(account, budgetCheck('k1', budget, midnight).id, midnight)).toEqual({ charged: 7 * 33_000, held: 0 });
    // A video held under a monthly budget just before the month ends settles into that month's counter.
    const monthly = { micro: 100_000, period: 'month' as const };
    const endOfMonth = periodOf('month', now()).end!;
    const before = budgetCheck('k1', monthly, endOfMonth - 1);
    expect(await hold(account, 'late', 90_000, before, endOfMonth - 1)).toEqual({ ok: true });
    expect(await ledger.settle({ account, claim: 'late-job', amount: 80_000, holdId: 'late', memo: '', now: endOfMonth + 1 })).toMatchObject({ charged: true });
    expect(await counter(account, before.id, endOfMonth + 1)).toEqual({ charged: 80_000, held: 0 });
    expect(await counter(account, budgetCheck('k1', monthly, endOfMonth + 1).id, endOfMonth + 1)).toEqual({ charged: 0, held: 0 });
  });

  it('keys carry their budget: issued, found, changed by a patch (a revoked key is left alone), listed with the period used', async () => {
    const account = uniq('budget');
    const [h1, h2] = [uniq('h'), uniq('h')];
    await ledger.issueKey(h1, { keyId: `${h1}-id`, account, tier: 'paid', rpm: 5, budget: { micro: 50_000, period: 'day' } }, 1_000_000, { label: 'team a', createdAt: 1_790_000_000 });
    await ledger.issueKey(h2, { keyId: `${h2}-id`, account, tier: 'paid', rpm: 5 }, 0, { label: null, createdAt: 1_790_000_001 });
    expect((await ledger.findKey(h1))?.budget).toEqual({ micro: 50_000, period: 'day' });
    expect((await ledger.findKey(h2))?.budget ?? null).toBeNull();
    const t = now();
    expect(await charge(account, 'k-c1', 33_000, budgetCheck(`${h1}-id`, { micro: 50_000, period: 'day' }, t), t)).toEqual({ ok: true });
    let keys = await ledger.listKeys(account);
    expect(keys[0]).toMatchObject({ budget: { micro: 50_000, period: 'day' }, budgetUsed: { charged: 33_000, held: 0 } });
    expect(keys[1]).toMatchObject({ budget: null, budgetUsed: null });
    expect(await ledger.updateKey(`${h1}-id`, { budget: { micro: 70_000, period: 'day' }, label: 'team a2', rpm: 9 })).toEqual({ account, revoked: false });
    expect(await ledger.findKey(h1)).toMatchObject({ rpm: 9, budget: { micro: 70_000, period: 'day' } });
    keys = await ledger.listKeys(account);
    expect(keys[0]).toMatchObject({ label: 'team a2', rpm: 9, budget: { micro: 70_000, period: 'day' }, budgetUsed: { charged: 33_000, held: 0 } });
    expect(await ledger.updateKey(`${h1}-id`, { budget: null, expiresAt: 1_890_000_000, label: null })).toEqual({ account, revoked: false });
    expect(await ledger.findKey(h1)).toMatchObject({ expiresAt: 1_890_000_000 });
    expect((await ledger.findKey(h1))?.budget ?? null).toBeNull();
    expect((await ledger.listKeys(account))[0]).toMatchObject({ label: null, budget: null, budgetUsed: null, expiresAt: 1_890_000_000 });
    await ledger.revokeKey(`${h2}-id`, now());
    expect(await ledger.updateKey(`${h2}-id`, { rpm: 1000 })).toEqual({ account, revoked: true });
    expect(await ledger.findKey(h2)).toBeNull();
    expect((await ledger.listKeys(account))[1]).toMatchObject({ rpm: 5 });
    expect(await ledger.updateKey('key_nope', { rpm: 1 })).toBeNull();
    expect((await ledger.account(account, now()))!.last_used_at).toBeGreaterThan(0);
  });

  it('outcome samples piggybacked on an admit are stored with it, by time', async () => {
    const account = uniq('samples');
    const t = now();
    const samples = [{ claim: 'img_a', at: t - 2_000, ms: 812, code: null }, { claim: 'img_b', at: t - 1_000, ms: 30_001, code: 'upstream_timeout' }];
    expect(await ledger.admit({ account, keyId: 'k1', rpm: 100_000, now: t, samples })).toEqual({ ok: true });
    expect((await ledger.activity(account, t - 10_000, t)).samples).toEqual(samples);
    expect((await ledger.activity(account, t - 1_500, t)).samples).toEqual([samples[1]]);
  });
});
