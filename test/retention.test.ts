// Retention the gateway enforces (issue 18 §3): re-hosted media deleted when MEDIA_RETENTION_HOURS ends (queued at
// write, checked again at read), and DELETE /admin/accounts/{account} erasing an account on both ledger stores.
import { createMessageBatch, env, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { describe, expect, inject, it } from 'vitest';
import { getConfig } from '../src/config';
import { consume } from '../src/jobs/consumer';
import type { JobMessage } from '../src/jobs/queue';
import { expireMedia, MAX_QUEUE_DELAY_SEC, type MediaExpireMessage } from '../src/jobs/retention';
import { getLedger } from '../src/ledger';
import { DurableLedger } from '../src/ledger/durable/client';
import { gateway, requireService, uniq, type Gateway, eventually, sleep } from './helpers';

/** 1.8 s: short enough to wait for, long enough to be stamped and queued. */
const SHORT = '0.0005';
const SHORT_MS = 1_800;



/** A gateway whose JOBS queue is captured; `pump` hands the chosen messages to the real consumer with this env. */
function captured(overrides: Record<string, unknown> = {}) {
  const queued: { body: JobMessage; delaySeconds?: number }[] = [];
  const JOBS = { send: async (body: JobMessage, opts?: { delaySeconds?: number }) => void queued.push({ body, delaySeconds: opts?.delaySeconds }) };
  const gw = gateway({ JOBS, ...overrides });
  let n = 0;
  const pump = async (filter: (m: JobMessage) => boolean) => {
    const take = queued.filter((q) => filter(q.body));
    for (const q of take) queued.splice(queued.indexOf(q), 1);
    if (take.length) await consume(createMessageBatch<JobMessage>('phi-gateway-jobs', take.map((q) => ({ id: `r${n++}`, timestamp: new Date(), attempts: 1, body: q.body }))), gw.env);
  };
  return { gw, queued, pump };
}

const isExpiry = (m: JobMessage): m is MediaExpireMessage => m.t === 'media-expire';
const keyOf = (url: string) => new URL(url).pathname.split('/').pop()!;
const pathOf = (url: string) => new URL(url).pathname + new URL(url).search;
const json = (gw: Gateway, key: string, path: string, body: unknown, headers: Record<string, string> = {}) =>
  gw.authed(key, path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

async function image(gw: Gateway, key: string, headers: Record<string, string> = {}): Promise<string> {
  const res = await json(gw, key, '/v1/images/generations', { prompt: uniq('retained') }, headers);
  expect(res.status, await res.clone().text()).toBe(200);
  return ((await res.json()) as { data: { url: string }[] }).data[0]!.url;
}

type Video = { id: string; status: string; url?: string; completed_at: number | null; expires_at: number | null };

async function finishedVideo(gw: Gateway, key: string): Promise<Video> {
  const res = await json(gw, key, '/v1/videos', { model: 'wan', prompt: uniq('retained video'), seconds: 2 });
  expect(res.status, await res.clone().text()).toBe(200);
  const { id } = (await res.json()) as Video;
  let video: Video | undefined;
  await eventually(async () => {
    video = (await (await gw.authed(key, `/v1/videos/${id}`)).json()) as Video;
    expect(video.status).toBe('completed');
  }, 25_000);
  return video!;
}

async function expectGone(gw: Gateway, path: string) {
  const res = await gw.fetch(path);
  expect(res.status).toBe(404);
  expect(((await res.json()) as { error: { code: string } }).error.code).toBe('not_found');
}

describe('re-hosted media is deleted by the gateway when its retention ends', () => {
  it('a paid image: stamped with its end, its deletion queued at write; past it the object is gone from R2 and its URL is 404', async () => {
    const { gw, queued, pump } = captured({ MEDIA_RETENTION_HOURS: SHORT });
    const { key } = await gw.issueKey({ credits_micro: 100_000 });
    const before = Date.now();
    const url = await image(gw, key);
    const after = Date.now();
    const objectKey = keyOf(url);
    // Account-scoped key: i_<16 hex tag>_<32 hex>.png
    expect(objectKey).toMatch(/^i_[0-9a-f]{16}_[0-9a-f]{32}\.png$/);
    const head = (await env.MEDIA!.head(objectKey))!;
    const expires = Number(head.customMetadata!.expires);
    expect(expires).toBeGreaterThanOrEqual(before + SHORT_MS);
    expect(expires).toBeLessThanOrEqual(after + SHORT_MS);
    // Queued once, for that end (after the answer, through waitUntil), with a delay that reaches it.
    const sent = queued.filter((q) => isExpiry(q.body));
    expect(sent.map((q) => q.body)).toEqual([{ t: 'media-expire', key: objectKey, at: expires }]);
    expect(sent[0]!.delaySeconds).toBeGreaterThanOrEqual(0);
    expect(sent[0]!.delaySeconds).toBeLessThanOrEqual(2);
    // The signed URL never outlives the copy.
    expect(Number(new URL(url).searchParams.get('exp'))).toBeLessThanOrEqual(Math.floor(expires / 1000));
    // The consumer: an early delivery sends itself again; a due one deletes.
    await eventually(async () => {
      await pump(isExpiry);
      expect(await env.MEDIA!.head(objectKey)).toBeNull();
    });
    await expectGone(gw, pathOf(url));
  });

  it('a re-hosted video: expires_at is its retention end; past it R2 holds nothing and content and URL are 404', async () => {
    const { gw, queued, pump } = captured({ MEDIA_RETENTION_HOURS: SHORT });
    const { key, account } = await gw.issueKey({ credits_micro: 1_000_000 });
    const video = await finishedVideo(gw, key);
    const objectKey = keyOf(video.url!);
    expect(objectKey).toMatch(/^v_[0-9a-f]{16}_[0-9a-f]{32}\.mp4$/);
    const head = (await env.MEDIA!.head(objectKey))!;
    const expires = Number(head.customMetadata!.expires);
    expect(head.customMetadata!.account).toBe(account);
    // Completion + the retention (1.8 s → the next whole second), the same end the object carries.
    expect(video.expires_at).toBe(Math.floor(expires / 1000));
    expect(video.expires_at).toBe(video.completed_at! + 1);
    expect(queued.filter((q) => isExpiry(q.body)).map((q) => q.body)).toEqual([{ t: 'media-expire', key: objectKey, at: expires }]);
    await eventually(async () => {
      await pump(isExpiry);
      expect(await env.MEDIA!.head(objectKey)).toBeNull();
    });
    const content = await gw.authed(key, `/v1/videos/${video.id}/content`);
    expect(content.status).toBe(404);
    await expectGone(gw, pathOf(video.url!));
    // A later poll still reports the same end; its URL leads nowhere.
    const again = (await (await gw.authed(key, `/v1/videos/${video.id}`)).json()) as Video;
    expect(again.expires_at).toBe(video.expires_at);
    await expectGone(gw, pathOf(again.url!));
  });

  it('without a queue the read-time check enforces it: served before the end, 404 and deleted after (a shortened retention applies to stored copies)', async () => {
    const long = gateway({ MEDIA_RETENTION_HOURS: '1', JOBS: undefined });
    const { key } = await long.issueKey({ credits_micro: 100_000 });
    const url = await image(long, key);
    const objectKey = keyOf(url);
    expect((await long.fetch(pathOf(url))).status).toBe(200);
    // The operator shortens the retention to 0.36 s: the stored copy's end moves with it.
    const short = gateway({ MEDIA_RETENTION_HOURS: '0.0001', JOBS: undefined });
    await eventually(async () => expect((await short.fetch(pathOf(url))).status).toBe(404));
    // Deleted in the background of that answer (the helper waits on it).
    expect(await env.MEDIA!.head(objectKey)).toBeNull();
  });

  it('the expiry handler: early → re-sent with the delay left (at most 12 h); re-written later → follows the new end; due → deleted', async () => {
    const sent: { body: JobMessage; delaySeconds?: number }[] = [];
    const e = { ...(env as object), MEDIA_RETENTION_HOURS: '24', JOBS: { send: async (body: JobMessage, o?: { delaySeconds?: number }) => void sent.push({ body, delaySeconds: o?.delaySeconds }) } } as unknown as typeof env;
    const cfg = getConfig(e);
    const now = Date.now();
    const key = `i_${'0'.repeat(16)}_${crypto.randomUUID().replace(/-/g, '')}.png`;
    await env.MEDIA!.put(key, new Uint8Array([1]), { customMetadata: { expires: String(now + 3_600_000) } });
    expect(await expireMedia(e, cfg, { t: 'media-expire', key, at: now + 30 * 3_600_000 }, now)).toBe('later');
    expect(await expireMedia(e, cfg, { t: 'media-expire', key, at: now + 10_000 }, now)).toBe('later');
    expect(sent.map((s) => s.delaySeconds)).toEqual([MAX_QUEUE_DELAY_SEC, 10]);
    // Due by its message, but the object says one hour: it is followed, not deleted.
    sent.length = 0;
    expect(await expireMedia(e, cfg, { t: 'media-expire', key, at: now - 1 }, now)).toBe('later');
    expect(sent).toEqual([{ body: { t: 'media-expire', key, at: now + 3_600_000 }, delaySeconds: 3_600 }]);
    expect(await env.MEDIA!.head(key)).not.toBeNull();
    expect(await expireMedia(e, cfg, { t: 'media-expire', key, at: now + 3_600_000 }, now + 3_600_000)).toBe('deleted');
    expect(await env.MEDIA!.head(key)).toBeNull();
    expect(await expireMedia(e, cfg, { t: 'media-expire', key, at: now }, now + 3_600_000)).toBe('gone');
  });
});

const upstashUrl = inject('upstashUrl');
requireService('Upstash stand-in (redis-server)', upstashUrl);
const stores: [string, Record<string, unknown>][] = [
  ['Durable Object', {}],
  ...(upstashUrl ? [['Upstash', { UPSTASH_REDIS_REST_URL: upstashUrl, UPSTASH_REDIS_REST_TOKEN: inject('upstashToken') }] as [string, Record<string, unknown>]] : []),
];

type AuditLine = { type: string; detail: Record<string, unknown> };
const auditOf = async (gw: Gateway, account: string) =>
  new TextDecoder()
    .decode(await (await gw.admin(`/admin/accounts/${account}/audit`)).arrayBuffer())
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as AuditLine);

describe.each(stores)('DELETE /admin/accounts/{account} on the %s ledger', (_name, store) => {
  it('refuses while the account holds money; with force=true erases keys, jobs, usage, media and webhook, leaving one audited tombstone; idempotent', async () => {
    const { gw } = captured(store);
    const account = uniq('erase');
    const first = await gw.issueKey({ account, credits_micro: 1_000_000 });
    const second = await gw.issueKey({ account, credits_micro: 0 });
    const imageUrl = await image(gw, first.key, { 'Idempotency-Key': 'erase-me' });
    const video = await finishedVideo(gw, first.key);
    const hook = await gw.admin(`/admin/accounts/${account}/webhook`, { method: 'PUT', body: JSON.stringify({ url: 'https://hooks.example.com/phi' }) });
    expect(hook.status).toBe(200);
    const before = await gw.balance(account);
    expect(before.balance_micro).toBeGreaterThan(0);
    expect(before.held_micro).toBe(0);
    const media = [keyOf(imageUrl), keyOf(video.url!)];
    for (const k of media) expect(await env.MEDIA!.head(k)).not.toBeNull();

    // Money in the account: refused, nothing touched.
    const refused = await gw.admin(`/admin/accounts/${account}`, { method: 'DELETE' });
    expect(refused.status).toBe(409);
    const err = ((await refused.json()) as { error: { code: string; param: string; message: string } }).error;
    expect(err).toMatchObject({ code: 'account_not_empty', param: 'force' });
    expect(err.message).toContain(`balance ${before.balance_micro} micro-USD`);
    expect(err.message).toContain('held 0 micro-USD');
    expect((await gw.authed(first.key, '/v1/account')).status).toBe(200);
    expect((await gw.balance(account)).balance_micro).toBe(before.balance_micro);

    const erased = await gw.admin(`/admin/accounts/${account}?force=true`, { method: 'DELETE' });
    expect(erased.status).toBe(200);
    expect(await erased.json()).toEqual({
      account,
      erased: true,
      already_erased: false,
      forfeited_micro: before.balance_micro,
      released_hold_micro: 0,
      keys_deleted: 2,
      media_deleted: 2,
    });

    // Nothing readable is left.
    expect((await gw.authed(first.key, '/v1/account')).status).toBe(401);
    expect((await gw.authed(second.key, '/v1/account')).status).toBe(401);
    expect((await gw.admin(`/admin/accounts/${account}`)).status).toBe(404);
    expect(((await (await gw.admin(`/admin/accounts/${account}/keys`)).json()) as { data: unknown[] }).data).toEqual([]);
    expect(((await (await gw.admin(`/admin/accounts/${account}/usage`)).json()) as { data: unknown[] }).data).toEqual([]);
    const ledger = getLedger(gw.env, getConfig(gw.env));
    expect(await ledger.getWebhook(account)).toBeNull();
    expect((await gw.admin(`/admin/accounts/${account}/webhook`, { method: 'DELETE' })).status).toBe(404);
    for (const k of media) expect(await env.MEDIA!.head(k)).toBeNull();
    await expectGone(gw, pathOf(imageUrl));
    await expectGone(gw, pathOf(video.url!));
    const names: string[] = [];
    for (let after: string | null = null, i = 0; i < 1000; i++) {
      const page: { accounts: string[]; hasMore: boolean } = await ledger.listAccounts(after, 100);
      names.push(...page.accounts);
      if (!page.hasMore) break;
      after = page.accounts.at(-1)!;
    }
    expect(names).not.toContain(account);

    // The audit trail keeps exactly one tombstone, with the forfeited amount.
    const tombstones = (await auditOf(gw, account)).filter((l) => l.type === 'account.erased');
    expect(tombstones).toHaveLength(1);
    expect(tombstones[0]!.detail).toMatchObject({ forfeited_micro: before.balance_micro, released_hold_micro: 0, keys_deleted: 2, jobs_deleted: 1, forced: true });

    // Again: 200, already erased, nothing more forfeited, no second tombstone.
    const again = await gw.admin(`/admin/accounts/${account}`, { method: 'DELETE' });
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ account, erased: true, already_erased: true, forfeited_micro: 0, released_hold_micro: 0, keys_deleted: 0, media_deleted: 0 });
    expect((await auditOf(gw, account)).filter((l) => l.type === 'account.erased')).toHaveLength(1);
    // Its idempotency records went too: the same key is a fresh request for the ledger.
    expect((await ledger.admit({ account, keyId: 'probe', rpm: 1000, now: Date.now(), idem: { key: 'images:probe', fingerprint: 'x', pendingTtlSec: 1 } })).ok).toBe(true);
  });

  it('an account with zero balance and no holds is erased without force; a held amount is refused, then released by force', async () => {
    const { gw } = captured({ ...store, MEDIA: undefined });
    const empty = await gw.issueKey({ credits_micro: 0 });
    const res = await gw.admin(`/admin/accounts/${empty.account}`, { method: 'DELETE' });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ already_erased: false, forfeited_micro: 0, released_hold_micro: 0, keys_deleted: 1, media_deleted: 0 });
    expect((await auditOf(gw, empty.account)).filter((l) => l.type === 'account.erased')).toHaveLength(1);

    // A running video's hold: refused, then forced — the hold is released and audited with its amount.
    const busy = await gw.issueKey({ credits_micro: 363_000 });
    const enq = await json(gw, busy.key, '/v1/videos', { model: 'wan', prompt: uniq('held'), seconds: '4' });
    expect(enq.status).toBe(200);
    expect(await gw.balance(busy.account)).toMatchObject({ balance_micro: 363_000, held_micro: 363_000 });
    const refused = await gw.admin(`/admin/accounts/${busy.account}?force=false`, { method: 'DELETE' });
    expect(refused.status).toBe(409);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toContain('held 363000 micro-USD');
    const forced = await gw.admin(`/admin/accounts/${busy.account}?force=true`, { method: 'DELETE' });
    expect(await forced.json()).toMatchObject({ forfeited_micro: 363_000, released_hold_micro: 363_000, keys_deleted: 1 });
    const [tomb] = (await auditOf(gw, busy.account)).filter((l) => l.type === 'account.erased');
    expect(tomb!.detail).toMatchObject({ forfeited_micro: 363_000, released_hold_micro: 363_000, forced: true });

    // Unknown accounts are already erased; the shared test account cannot be erased; force must be true or false.
    expect(await (await gw.admin(`/admin/accounts/${uniq('never')}`, { method: 'DELETE' })).json()).toMatchObject({ already_erased: true });
    expect((await gw.admin('/admin/accounts/test', { method: 'DELETE' })).status).toBe(400);
    expect((await gw.admin(`/admin/accounts/${uniq('x')}?force=yes`, { method: 'DELETE' })).status).toBe(400);
  });
});

describe('the Durable Object ledger expires rows of a quiet account by itself (alarm)', () => {
  const DAY = 24 * 3600 * 1000;
  const count = (account: string, table: string) =>
    runInDurableObject(env.LEDGER.get(env.LEDGER.idFromName(`account:${account}`)), (_o, state) => Number(state.storage.sql.exec(`SELECT COUNT(*) AS n FROM ${table}`).one().n));

  it('idempotency records and the job index past their TTL are deleted with no request; an erased account keeps its trail for the audit retention, then nothing', async () => {
    const ledger = new DurableLedger(env.LEDGER);
    const account = uniq('quiet');
    await ledger.credit(account, 0, true);
    await ledger.admit({ account, keyId: 'k', rpm: 100, now: Date.now() }); // the request path arms the alarm
    // Written long ago: both past their TTL (24 h and 30 days) by now.
    await ledger.remember({ account, now: Date.now() - 31 * DAY, idem: { key: 'old', fingerprint: 'f', response: 'r', ttlSec: 24 * 3600 }, job: { key: 'video:fal:old', id: 'video_old', createdAt: 1 } });
    await ledger.remember({ account, now: Date.now(), idem: { key: 'new', fingerprint: 'f', response: 'r', ttlSec: 24 * 3600 } });
    expect(await count(account, 'idem')).toBe(2);
    expect(await count(account, 'jobs')).toBe(1);
    const stub = env.LEDGER.get(env.LEDGER.idFromName(`account:${account}`));
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await count(account, 'idem')).toBe(1);
    expect(await count(account, 'jobs')).toBe(0);
    // Still something to expire: re-armed.
    expect(await runInDurableObject(stub, (_o, state) => state.storage.getAlarm())).not.toBeNull();

    // Erased, with a trail kept 1 ms: the next alarm drops the tombstone, and nothing is left to wake up for.
    expect(await ledger.eraseAccount({ account, force: false, now: Date.now(), auditRetentionMs: 1 })).toMatchObject({ ok: true, already: false });
    expect(await count(account, 'audit')).toBe(1);
    expect(await count(account, 'idem')).toBe(0);
    await eventually(async () => {
      await runDurableObjectAlarm(stub);
      expect(await count(account, 'audit')).toBe(0);
    });
    expect(await runInDurableObject(stub, (_o, state) => state.storage.getAlarm())).toBeNull();
  });
});
