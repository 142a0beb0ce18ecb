// Keys and account settings on Upstash: issue, find, revoke, update and list keys; list accounts; the account's
// PHI screening override and webhook endpoint. Global records: phi:key:<hash>, phi:kid:<id>, phi:kacct:<id>.
import { budgetCheck } from '../budget';
import type { RestRedis } from '../rest';
import type { KeyInfo, KeyPatch, KeyRecord, PhiScanMode, WebhookConfig } from '../types';
import { heldBy } from './held';
import { budgetOf, k, pairs } from './store';

// KEYS: the key's account record, its hash record. ARGV: now (s). Revocation keeps the key's listing.
const REVOKE = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local hash = redis.call('HGET', KEYS[1], 'hash')
if hash then redis.call('DEL', 'phi:key:' .. hash) end
redis.call('HSETNX', KEYS[1], 'revoked', ARGV[1])
return 1
`;

// KEYS: the key's account record. ARGV: field, value ('' removes), … — applied to it and to its hash record (which
// authentication reads). A revoked key is left alone (its hash record is gone and must stay gone). 0: no such key.
const UPDATE_KEY = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('HEXISTS', KEYS[1], 'revoked') == 1 then return 2 end
local gk = 'phi:key:' .. redis.call('HGET', KEYS[1], 'hash')
for i = 1, #ARGV, 2 do
  if ARGV[i + 1] == '' then
    redis.call('HDEL', KEYS[1], ARGV[i])
    redis.call('HDEL', gk, ARGV[i])
  else
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
    if ARGV[i] ~= 'label' then redis.call('HSET', gk, ARGV[i], ARGV[i + 1]) end
  end
end
return 1
`;

// KEYS: account, webhook. ARGV: url ('' removes), nonce, created_at. 0 when the account does not exist.
const SET_WEBHOOK = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if ARGV[1] == '' then redis.call('DEL', KEYS[2]) else redis.call('HSET', KEYS[2], 'url', ARGV[1], 'nonce', ARGV[2], 'created_at', ARGV[3]) end
return 1
`;

export async function findKey(redis: RestRedis, hash: string): Promise<KeyRecord | null> {
  const h = pairs(await redis.cmd('hgetall', `phi:key:${hash}`));
  if (!h.id) return null;
  const rec: KeyRecord = { keyId: h.id, account: String(h.account), tier: h.tier as KeyRecord['tier'], rpm: Number(h.rpm), expiresAt: h.exp ? Number(h.exp) : null };
  if (h.phi === 'off' || h.phi === 'block') rec.phiScan = h.phi;
  const budget = budgetOf(h);
  if (budget) rec.budget = budget;
  return rec;
}

/**
 * The account's PHI screening override lives on the account (`phi`) and is copied onto each of its key records,
 * so authentication reads it in its one command. Operator-only and rare: a few round trips are fine here.
 */
export async function setPhiScan(redis: RestRedis, account: string, mode: PhiScanMode | null): Promise<boolean> {
  if (Number(await redis.cmd('exists', k(account, 'a'))) === 0) return false;
  const ids = ((await redis.cmd('zrange', k(account, 'keys'), 0, -1)) as string[]) ?? [];
  const hashes = ids.length ? await redis.pipeline(ids.map((id) => ['hget', k(account, `k:${id}`), 'hash'])) : [];
  const perKey = hashes.filter((h): h is string => typeof h === 'string').map((h) => (mode ? ['hset', `phi:key:${h}`, 'phi', mode] : ['hdel', `phi:key:${h}`, 'phi']));
  await redis.transaction([mode ? ['set', k(account, 'phi'), mode] : ['del', k(account, 'phi')], ...perKey]);
  return true;
}

export async function issueKey(redis: RestRedis, hash: string, rec: KeyRecord, credits: number, meta?: { label: string | null; createdAt: number }): Promise<void> {
  const created = meta?.createdAt ?? Math.floor(Date.now() / 1000);
  const exp: (string | number)[] = rec.expiresAt ? ['exp', rec.expiresAt] : [];
  if (rec.budget) exp.push('bm', rec.budget.micro, 'bp', rec.budget.period);
  const policy = await redis.cmd('get', k(rec.account, 'phi'));
  if (policy === 'off' || policy === 'block') exp.push('phi', policy);
  await redis.transaction([
    ['hincrby', k(rec.account, 'a'), 'balance', credits],
    ['hset', `phi:key:${hash}`, 'id', rec.keyId, 'account', rec.account, 'tier', rec.tier, 'rpm', rec.rpm, ...exp],
    ['set', `phi:kid:${rec.keyId}`, hash],
    ['set', `phi:kacct:${rec.keyId}`, rec.account],
    ['hset', k(rec.account, `k:${rec.keyId}`), 'hash', hash, 'tier', rec.tier, 'rpm', rec.rpm, 'created', created, ...exp, ...(meta?.label ? ['label', meta.label] : [])],
    ['zadd', k(rec.account, 'keys'), created, rec.keyId],
    ['zadd', 'phi:accounts', 0, rec.account],
  ]);
}

export async function revokeKey(redis: RestRedis, keyId: string, now: number): Promise<string | null> {
  const account = await redis.cmd('get', `phi:kacct:${keyId}`);
  if (typeof account !== 'string') return null;
  const ok = Number(await redis.script(REVOKE, [k(account, `k:${keyId}`)], [Math.floor(now / 1000)])) === 1;
  return ok ? account : null;
}

export async function updateKey(redis: RestRedis, keyId: string, patch: KeyPatch): Promise<{ account: string; revoked: boolean } | null> {
  const account = await redis.cmd('get', `phi:kacct:${keyId}`);
  if (typeof account !== 'string') return null;
  const fields: (string | number)[] = [];
  if (patch.label !== undefined) fields.push('label', patch.label ?? '');
  if (patch.expiresAt !== undefined) fields.push('exp', patch.expiresAt ?? '');
  if (patch.rpm !== undefined) fields.push('rpm', patch.rpm);
  if (patch.budget !== undefined) fields.push('bm', patch.budget?.micro ?? '', 'bp', patch.budget?.period ?? '');
  const r = Number(await redis.script(UPDATE_KEY, [k(account, `k:${keyId}`)], fields));
  return r === 0 ? null : { account, revoked: r === 2 };
}

export async function listKeys(redis: RestRedis, account: string): Promise<KeyInfo[]> {
  const ids = ((await redis.cmd('zrange', k(account, 'keys'), 0, -1)) as string[]) ?? [];
  const replies = await redis.pipeline([...ids.map((id) => ['hgetall', k(account, `k:${id}`)]), ['hgetall', k(account, 'used')], ['hgetall', k(account, 'h')]]);
  const used = pairs(replies[ids.length]);
  const now = Date.now();
  const holds = heldBy(replies[ids.length + 1], now);
  const hashes = ids.map((_, i) => pairs(replies[i]));
  // The budgets' current counters, in a second round (the period is on the key record): an operator call.
  const checks = hashes.map((h, i) => {
    const b = budgetOf(h);
    return b ? budgetCheck(ids[i]!, b, now).id : null;
  });
  const wanted = checks.filter((id): id is string => id !== null);
  const charged = wanted.length ? await redis.pipeline(wanted.map((id) => ['get', k(account, `ks:${id}`)])) : [];
  const counters = new Map(wanted.map((id, i) => [id, { charged: Number(charged[i] ?? 0), held: holds.by.get(id) ?? 0 }]));
  return ids.map((keyId, i) => {
    const h = hashes[i]!;
    return {
      keyId,
      label: h.label ?? null,
      tier: h.tier as KeyInfo['tier'],
      rpm: Number(h.rpm),
      createdAt: Number(h.created),
      expiresAt: h.exp ? Number(h.exp) : null,
      revokedAt: h.revoked ? Number(h.revoked) : null,
      lastUsedAt: used[keyId] ? Number(used[keyId]) : null,
      budget: budgetOf(h),
      budgetUsed: checks[i] ? (counters.get(checks[i]!) ?? null) : null,
    };
  });
}

export async function listAccounts(redis: RestRedis, after: string | null, limit: number): Promise<{ accounts: string[]; hasMore: boolean }> {
  const names = (await redis.cmd('zrangebylex', 'phi:accounts', after ? `(${after}` : '-', '+', 'LIMIT', 0, limit + 1)) as string[];
  return { accounts: names.slice(0, limit), hasMore: names.length > limit };
}

export async function setWebhook(redis: RestRedis, account: string, hook: WebhookConfig | null): Promise<boolean> {
  const args = hook ? [hook.url, hook.nonce, hook.createdAt] : ['', '', 0];
  return Number(await redis.script(SET_WEBHOOK, [k(account, 'a'), k(account, 'w')], args)) === 1;
}

export async function getWebhook(redis: RestRedis, account: string): Promise<WebhookConfig | null> {
  const h = pairs(await redis.cmd('hgetall', k(account, 'w')));
  return h.url ? { url: h.url, nonce: String(h.nonce), createdAt: Number(h.created_at) } : null;
}
