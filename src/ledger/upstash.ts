// The production ledger on Upstash Redis (REST). Every multi-step money operation is one Lua script, so it is
// atomic on the server and costs one HTTP round trip. Per-account keys share the hash tag {account}. Claims and
// released holds are keys of their own with a TTL, so no script scans an account's history.

import { RestRedis } from './rest';
import {
  CLAIM_TTL_SEC,
  JOB_TTL_SEC,
  RATE_WINDOW_MS,
  RELEASED_HOLD_TTL_MS,
  USAGE_KEEP,
  USAGE_RETENTION_MS,
  type AccountView,
  type AdmitRequest,
  type AdmitResult,
  type DiscardRequest,
  type WebhookConfig,
  type KeyInfo,
  type AdjustRequest,
  type AdjustResult,
  type JobRecord,
  type KeyRecord,
  type Ledger,
  type RefundRequest,
  type ReleaseRequest,
  type RememberRequest,
  type SettleRequest,
  type SettleResult,
  type UsageRecord,
  type AuditEvent,
  type PhiScanMode,
  ERASED_EVENT,
  type EraseRequest,
  type EraseResult,
  type Activity,
  type CounterView,
  type KeyBudget,
  type KeyPatch,
} from './types';
import { budgetCheck } from './budget';

// Sum of unexpired active holds ("amount:expiresAtMs", or "amount:expiresAtMs:budget counter"), pruning expired
// ones, and (second value) of those made under `counter`. Only live holds are in this hash.
const HELD = `
local function held(hkey, now, counter)
  local all = redis.call('HGETALL', hkey)
  local total, mine = 0, 0
  for i = 1, #all, 2 do
    local amt, exp, c = string.match(all[i + 1], '^(%d+):(%d+):?(.*)$')
    if not exp or tonumber(exp) <= now then redis.call('HDEL', hkey, all[i]) else
      total = total + tonumber(amt)
      if counter and c == counter then mine = mine + tonumber(amt) end
    end
  end
  return total, mine
end
local now = tonumber(ARGV[1])
`;

// KEYS: account, holds, claim|'', rate, idem|'', released-hold|'', usage, lookup|'', job index|'', key last use|'',
//       budget counter|'', claim's counter|'', refusals of the day|'', samples|''
// ARGV: now, rpm, chargeAmount, holdId, holdAmount, holdTtlMs, fp, pendingTtlMs, claimTtlMs, usageJson,
//       list order ('asc'|'desc'|''), list limit, after createdAt|'', after key, job key prefix, key id,
//       budget limit|'', budget counter id, counter kept until (ms, 0 = kept), refusal field prefix, samples json|''
const ADMIT = `${HELD}
if KEYS[14] ~= '' and ARGV[21] ~= '' then
  -- Outcomes of earlier requests (latency statistics), piggybacked: [score, member, score, member, …].
  local s = cjson.decode(ARGV[21])
  for i = 1, #s, 2 do redis.call('ZADD', KEYS[14], s[i], s[i + 1]) end
  redis.call('PEXPIRE', KEYS[14], ${USAGE_RETENTION_MS})
  redis.call('ZREMRANGEBYSCORE', KEYS[14], '-inf', now - ${USAGE_RETENTION_MS})
end
local function refuse(code, reply)
  if KEYS[13] ~= '' then
    redis.call('HINCRBY', KEYS[13], ARGV[20] .. code, 1)
    redis.call('PEXPIRE', KEYS[13], ${USAGE_RETENTION_MS})
  end
  return reply
end
if KEYS[3] ~= '' then
  local c = redis.call('GET', KEYS[3])
  if c then if c == 'v' then return {'void'} end return {'ok'} end
end
if ARGV[4] ~= '' then
  if redis.call('EXISTS', KEYS[6]) == 1 then return {'void'} end
  if redis.call('HEXISTS', KEYS[2], ARGV[4]) == 1 then return {'ok'} end
end
if KEYS[5] ~= '' then
  local r = redis.call('HMGET', KEYS[5], 'fp', 'r')
  if r[1] then
    if r[1] ~= ARGV[7] then return {'idem_mismatch'} end
    if r[2] then return {'replay', r[2]} end
    return {'in_flight'}
  end
end
local interval = ${RATE_WINDOW_MS} / tonumber(ARGV[2])
local base = math.max(tonumber(redis.call('GET', KEYS[4]) or '0'), now)
local ahead = base + interval - now
if ahead > ${RATE_WINDOW_MS} then return refuse('rate_limit_exceeded', {'rate_limited', math.max(1, math.ceil((ahead - ${RATE_WINDOW_MS}) / 1000))}) end
local charge = tonumber(ARGV[3])
local hold = tonumber(ARGV[5])
local budget = KEYS[11] ~= '' and charge + hold > 0
if charge + hold > 0 then
  local total, mine = held(KEYS[2], now, budget and ARGV[18] or nil)
  local avail = tonumber(redis.call('HGET', KEYS[1], 'balance') or '0') - total
  if charge + hold > avail then return refuse('insufficient_quota', {'insufficient', math.max(0, avail)}) end
  if budget then
    local used = tonumber(redis.call('GET', KEYS[11]) or '0') + mine
    local limit = tonumber(ARGV[17])
    if used + charge + hold > limit then return refuse('budget_exceeded', {'budget_exceeded', math.max(0, limit - used)}) end
  end
end
if budget then
  -- The period's counter: created with its first priced request, kept until ARGV[19] (0: kept with the key).
  redis.call('INCRBY', KEYS[11], charge)
  if ARGV[19] ~= '0' then redis.call('PEXPIREAT', KEYS[11], ARGV[19]) end
  if KEYS[12] ~= '' then redis.call('SET', KEYS[12], ARGV[18], 'PX', ARGV[9]) end
end
redis.call('SET', KEYS[4], string.format('%.3f', base + interval), 'PX', math.ceil(ahead) + 1000)
if KEYS[10] ~= '' then redis.call('HSET', KEYS[10], ARGV[16], math.floor(now / 1000)) end
if KEYS[3] ~= '' then
  if charge > 0 then
    redis.call('HINCRBY', KEYS[1], 'balance', -charge)
    redis.call('HINCRBY', KEYS[1], 'spent', charge)
    redis.call('HINCRBY', KEYS[1], 'charges', 1)
  end
  redis.call('ZADD', KEYS[7], now, ARGV[10])
  redis.call('PEXPIRE', KEYS[7], ${USAGE_RETENTION_MS})
  redis.call('ZREMRANGEBYSCORE', KEYS[7], '-inf', now - ${USAGE_RETENTION_MS})
  redis.call('SET', KEYS[3], charge, 'PX', ARGV[9])
end
if hold > 0 then
  local v = string.format('%d:%d', hold, now + tonumber(ARGV[6]))
  if budget then v = v .. ':' .. ARGV[18] end
  redis.call('HSET', KEYS[2], ARGV[4], v)
  -- The hash lives as long as its longest hold, so a quiet account's expired holds go too.
  if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[6]) then redis.call('PEXPIRE', KEYS[2], ARGV[6]) end
end
if KEYS[5] ~= '' then
  -- 'n': the admitting request's now, which names this marker (a release frees only the marker it names).
  redis.call('HSET', KEYS[5], 'fp', ARGV[7], 'n', ARGV[1])
  redis.call('PEXPIRE', KEYS[5], ARGV[8])
end
if KEYS[8] ~= '' then
  local j = redis.call('HMGET', KEYS[8], 'id', 't', 's', 'f', 'm')
  if j[1] then return {'ok', j[1], j[2], j[3] or false, j[4] or false, j[5] or false} end
  return {'ok', false}
end
if ARGV[11] ~= '' then
  -- A page of the job index in (createdAt, key) order after a position; missing (expired) records are skipped.
  local desc, limit, out = ARGV[11] == 'desc', tonumber(ARGV[12]), {}
  local at, last = ARGV[13], ARGV[14]
  local offset = 0
  while #out < (limit + 1) * 5 do
    local batch
    if desc then batch = redis.call('ZREVRANGEBYSCORE', KEYS[9], at == '' and '+inf' or at, '-inf', 'WITHSCORES', 'LIMIT', offset, 100)
    else batch = redis.call('ZRANGEBYSCORE', KEYS[9], at == '' and '-inf' or at, '+inf', 'WITHSCORES', 'LIMIT', offset, 100) end
    if #batch == 0 then break end
    offset = offset + #batch / 2
    for i = 1, #batch, 2 do
      local key, t = batch[i], batch[i + 1]
      local past = at == '' or tonumber(t) ~= tonumber(at) or (desc and key < last) or (not desc and key > last)
      if past and #out < (limit + 1) * 5 then
        local j = redis.call('HMGET', ARGV[15] .. key, 'id', 't', 's', 'f')
        if j[1] then
          for _, v in ipairs({key, j[1], j[2], j[3] or false, j[4] or false}) do out[#out + 1] = v end
        end
      end
    end
  end
  return {'list', unpack(out)}
end
return {'ok'}
`;

// KEYS: account, holds, claim, usage, released-hold|'', job  ARGV: now, amount, holdId, usageJson, claimTtlMs, state|'',
// record at $0 ('1'), spend counter key prefix. A hold made under a budget counter settles into it (same hash tag).
const SETTLE = `${HELD}
local counter = false
if ARGV[3] ~= '' then
  local hv = redis.call('HGET', KEYS[2], ARGV[3])
  if hv then
    local c = string.match(hv, '^%d+:%d+:(.+)$')
    if c then counter = ARGV[8] .. c end
  end
  redis.call('HDEL', KEYS[2], ARGV[3])
  redis.call('SET', KEYS[5], '1', 'PX', ${RELEASED_HOLD_TTL_MS})
end
local bal = tonumber(redis.call('HGET', KEYS[1], 'balance') or '0')
local prior = redis.call('GET', KEYS[3])
if prior then return {'dup', tonumber(prior) or 0, bal, redis.call('HGET', KEYS[6], 's') or false} end
local amt = tonumber(ARGV[2])
local avail = bal - held(KEYS[2], now)
if amt > avail then return {'insufficient', math.max(0, avail)} end
if amt > 0 then
  redis.call('HINCRBY', KEYS[1], 'balance', -amt)
  redis.call('HINCRBY', KEYS[1], 'spent', amt)
  redis.call('HINCRBY', KEYS[1], 'charges', 1)
end
if counter and amt > 0 and redis.call('EXISTS', counter) == 1 then redis.call('INCRBY', counter, amt) end
if amt > 0 or ARGV[7] == '1' then
  redis.call('ZADD', KEYS[4], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[4], ${USAGE_RETENTION_MS})
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now - ${USAGE_RETENTION_MS})
end
redis.call('SET', KEYS[3], amt, 'PX', ARGV[5])
if ARGV[6] ~= '' and redis.call('EXISTS', KEYS[6]) == 1 then redis.call('HSET', KEYS[6], 's', ARGV[6]) end
return {'ok', amt, bal - amt, ARGV[6] ~= '' and ARGV[6] or redis.call('HGET', KEYS[6], 's') or false}
`;

// KEYS: account, claim, usage, claim's budget counter id  ARGV: keep, now, claimTtlMs, claimId, spend counter key prefix
const REFUND = `
local c = redis.call('GET', KEYS[2])
if not c then
  redis.call('SET', KEYS[2], 'v', 'PX', ARGV[3])
  return 0
end
if c == 'v' then return 0 end
local charged = tonumber(c)
local keep = tonumber(ARGV[1])
if charged <= keep then return charged end
local back = charged - keep
redis.call('HINCRBY', KEYS[1], 'balance', back)
redis.call('HINCRBY', KEYS[1], 'spent', -back)
local counter = redis.call('GET', KEYS[4])
if counter and redis.call('EXISTS', ARGV[5] .. counter) == 1 then redis.call('DECRBY', ARGV[5] .. counter, back) end
if keep == 0 then
  redis.call('HINCRBY', KEYS[1], 'charges', -1)
  redis.call('SET', KEYS[2], 'v', 'KEEPTTL')
else
  redis.call('SET', KEYS[2], keep, 'KEEPTTL')
end
redis.call('ZADD', KEYS[3], tonumber(ARGV[2]), cjson.encode({claim = ARGV[4], amount_micro = -back, memo = 'refund', at = tonumber(ARGV[2])}))
redis.call('PEXPIRE', KEYS[3], ${USAGE_RETENTION_MS})
return keep
`;

// KEYS: idem|'', job|'', job index  ARGV: fp, response, idemTtlMs, jobId, jobCreatedAt, jobTtlMs, jobKey, from|''
const REMEMBER = `
if KEYS[1] ~= '' then
  redis.call('HSET', KEYS[1], 'fp', ARGV[1], 'r', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
if KEYS[2] ~= '' then
  if redis.call('EXISTS', KEYS[2]) == 0 then
    redis.call('HSET', KEYS[2], 'id', ARGV[4], 't', ARGV[5])
    if ARGV[8] ~= '' then redis.call('HSET', KEYS[2], 'f', ARGV[8]) end
    if ARGV[9] ~= '' then redis.call('HSET', KEYS[2], 'm', ARGV[9]) end
    redis.call('PEXPIRE', KEYS[2], ARGV[6])
    redis.call('ZADD', KEYS[3], ARGV[5], ARGV[7])
    -- The index expires with the last record it names, so a quiet account's index goes too.
    redis.call('PEXPIRE', KEYS[3], ARGV[6])
  end
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. (tonumber(ARGV[5]) - tonumber(ARGV[6]) / 1000))
end
return 1
`;

// KEYS: claim, holds, released-hold|'', job, job index  ARGV: holdId, state, claimTtlMs, now (s), jobTtlMs, jobKey
const DISCARD = `
if redis.call('HGET', KEYS[4], 'd') == '1' then return 0 end
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('SET', KEYS[1], 0, 'PX', ARGV[3])
  if ARGV[1] ~= '' then
    redis.call('HDEL', KEYS[2], ARGV[1])
    redis.call('SET', KEYS[3], '1', 'PX', ${RELEASED_HOLD_TTL_MS})
  end
end
if redis.call('EXISTS', KEYS[4]) == 0 then
  redis.call('HSET', KEYS[4], 'id', '', 't', ARGV[4])
  redis.call('PEXPIRE', KEYS[4], ARGV[5])
end
redis.call('HSET', KEYS[4], 'd', '1', 's', ARGV[2])
redis.call('ZREM', KEYS[5], ARGV[6])
return 1
`;

// KEYS: holds, released-hold|'', idem|''  ARGV: holdId, the now of the admit whose marker it must be|''
const RELEASE = `
if ARGV[1] ~= '' then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('SET', KEYS[2], '1', 'PX', ${RELEASED_HOLD_TTL_MS})
end
if KEYS[3] ~= '' and redis.call('HEXISTS', KEYS[3], 'r') == 0 then
  if ARGV[2] == '' or redis.call('HGET', KEYS[3], 'n') == ARGV[2] then redis.call('DEL', KEYS[3]) end
end
return 1
`;

// KEYS: account  ARGV: amount, create (1|0) → new balance, or nil when the account does not exist
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

// KEYS: account, holds, usage. ARGV: now, amount (signed), usage json. Never below zero available.
const ADJUST = `${HELD}
if redis.call('EXISTS', KEYS[1]) == 0 then return {'no_account'} end
local avail = tonumber(redis.call('HGET', KEYS[1], 'balance') or '0') - held(KEYS[2], now)
local amount = tonumber(ARGV[2])
if avail + amount < 0 then return {'insufficient', math.max(0, avail)} end
local balance = redis.call('HINCRBY', KEYS[1], 'balance', amount)
redis.call('ZADD', KEYS[3], now, ARGV[3])
redis.call('PEXPIRE', KEYS[3], ${USAGE_RETENTION_MS})
return {'ok', balance}
`;

// KEYS: account, webhook. ARGV: url ('' removes), nonce, created_at. 0 when the account does not exist.
const SET_WEBHOOK = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if ARGV[1] == '' then redis.call('DEL', KEYS[2]) else redis.call('HSET', KEYS[2], 'url', ARGV[1], 'nonce', ARGV[2], 'created_at', ARGV[3]) end
return 1
`;

const CREDIT = `
if ARGV[2] ~= '1' and redis.call('EXISTS', KEYS[1]) == 0 then return false end
return redis.call('HINCRBY', KEYS[1], 'balance', ARGV[1])
`;

// The money side of an erase, atomic with its tombstone: refused while the account holds money (unless forced);
// else the balance and holds go and the audit trail gets `account.erased` with the amounts, kept for the retention.
// The key index stays (the caller deletes the keys it names, then everything else) so that a retry can finish.
// KEYS: account, holds, key index, audit, job index  ARGV: now, force ('1'|''), request id|'', nonce, audit retention ms|''
const ERASE = `${HELD}
local existed = redis.call('EXISTS', KEYS[1]) == 1
local bal = tonumber(redis.call('HGET', KEYS[1], 'balance') or '0')
local hold = held(KEYS[2], now)
if existed and ARGV[2] ~= '1' and (bal ~= 0 or hold ~= 0) then return {'not_empty', bal, hold} end
local ids = redis.call('ZRANGE', KEYS[3], 0, -1)
local jobs = redis.call('ZCARD', KEYS[5])
redis.call('DEL', KEYS[1], KEYS[2], KEYS[5])
if existed then
  local detail = {forfeited_micro = bal, released_hold_micro = hold, keys_deleted = #ids, jobs_deleted = jobs, forced = ARGV[2] == '1'}
  local rid = cjson.null
  if ARGV[3] ~= '' then rid = ARGV[3] end
  redis.call('ZADD', KEYS[4], now, cjson.encode({at = now, type = '${ERASED_EVENT}', request_id = rid, key_id = cjson.null, detail = detail, n = ARGV[4]}))
  if ARGV[5] ~= '' then redis.call('PEXPIRE', KEYS[4], ARGV[5]) end
  return {'ok', bal, hold, unpack(ids)}
end
return {'already', bal, hold, unpack(ids)}
`;

type Reply = [string, ...(string | number)[]];

/** HGETALL is a flat [field, value, …] list. */
function pairs(raw: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (Array.isArray(raw)) for (let i = 0; i + 1 < raw.length; i += 2) out[String(raw[i])] = String(raw[i + 1]);
  return out;
}

/** A key hash's budget fields (`bm` micro-USD, `bp` period), or null. */
function budgetOf(h: Record<string, string>): KeyBudget | null {
  return h.bm !== undefined && (h.bp === 'day' || h.bp === 'month' || h.bp === 'total') ? { micro: Number(h.bm), period: h.bp } : null;
}

/** Live holds per budget counter, from the holds hash ("amount:expires[:counter]"). */
function heldBy(raw: unknown, now: number): { total: number; by: Map<string, number> } {
  const by = new Map<string, number>();
  let total = 0;
  for (const v of Object.values(pairs(raw))) {
    const m = /^(\d+):(\d+)(?::(.+))?$/.exec(String(v));
    if (!m || Number(m[2]) <= now) continue;
    total += Number(m[1]);
    if (m[3]) by.set(m[3], (by.get(m[3]) ?? 0) + Number(m[1]));
  }
  return { total, by };
}

export class UpstashLedger implements Ledger {
  private readonly redis: RestRedis;

  constructor(opts: { url: string; token: string; timeoutMs: number }) {
    this.redis = new RestRedis(opts.url.replace(/\/+$/, ''), opts.token, opts.timeoutMs);
  }

  private k(account: string, part: string) {
    return `phi:{${account}}:${part}`;
  }

  async findKey(hash: string): Promise<KeyRecord | null> {
    const h = pairs(await this.redis.cmd('hgetall', `phi:key:${hash}`));
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
  async setPhiScan(account: string, mode: PhiScanMode | null): Promise<boolean> {
    if (Number(await this.redis.cmd('exists', this.k(account, 'a'))) === 0) return false;
    const ids = ((await this.redis.cmd('zrange', this.k(account, 'keys'), 0, -1)) as string[]) ?? [];
    const hashes = ids.length ? await this.redis.pipeline(ids.map((id) => ['hget', this.k(account, `k:${id}`), 'hash'])) : [];
    const perKey = hashes.filter((h): h is string => typeof h === 'string').map((h) => (mode ? ['hset', `phi:key:${h}`, 'phi', mode] : ['hdel', `phi:key:${h}`, 'phi']));
    await this.redis.transaction([mode ? ['set', this.k(account, 'phi'), mode] : ['del', this.k(account, 'phi')], ...perKey]);
    return true;
  }

  async issueKey(hash: string, rec: KeyRecord, credits: number, meta?: { label: string | null; createdAt: number }): Promise<void> {
    const created = meta?.createdAt ?? Math.floor(Date.now() / 1000);
    const exp: (string | number)[] = rec.expiresAt ? ['exp', rec.expiresAt] : [];
    if (rec.budget) exp.push('bm', rec.budget.micro, 'bp', rec.budget.period);
    const policy = await this.redis.cmd('get', this.k(rec.account, 'phi'));
    if (policy === 'off' || policy === 'block') exp.push('phi', policy);
    await this.redis.transaction([
      ['hincrby', this.k(rec.account, 'a'), 'balance', credits],
      ['hset', `phi:key:${hash}`, 'id', rec.keyId, 'account', rec.account, 'tier', rec.tier, 'rpm', rec.rpm, ...exp],
      ['set', `phi:kid:${rec.keyId}`, hash],
      ['set', `phi:kacct:${rec.keyId}`, rec.account],
      ['hset', this.k(rec.account, `k:${rec.keyId}`), 'hash', hash, 'tier', rec.tier, 'rpm', rec.rpm, 'created', created, ...exp, ...(meta?.label ? ['label', meta.label] : [])],
      ['zadd', this.k(rec.account, 'keys'), created, rec.keyId],
      ['zadd', 'phi:accounts', 0, rec.account],
    ]);
  }

  async revokeKey(keyId: string, now: number): Promise<string | null> {
    const account = await this.redis.cmd('get', `phi:kacct:${keyId}`);
    if (typeof account !== 'string') return null;
    const ok = Number(await this.redis.script(REVOKE, [this.k(account, `k:${keyId}`)], [Math.floor(now / 1000)])) === 1;
    return ok ? account : null;
  }

  async updateKey(keyId: string, patch: KeyPatch): Promise<{ account: string; revoked: boolean } | null> {
    const account = await this.redis.cmd('get', `phi:kacct:${keyId}`);
    if (typeof account !== 'string') return null;
    const fields: (string | number)[] = [];
    if (patch.label !== undefined) fields.push('label', patch.label ?? '');
    if (patch.expiresAt !== undefined) fields.push('exp', patch.expiresAt ?? '');
    if (patch.rpm !== undefined) fields.push('rpm', patch.rpm);
    if (patch.budget !== undefined) fields.push('bm', patch.budget?.micro ?? '', 'bp', patch.budget?.period ?? '');
    const r = Number(await this.redis.script(UPDATE_KEY, [this.k(account, `k:${keyId}`)], fields));
    return r === 0 ? null : { account, revoked: r === 2 };
  }

  async audit(account: string, events: AuditEvent[], retentionMs: number): Promise<void> {
    if (!events.length) return;
    const key = this.k(account, 'audit');
    // Members are unique: each event carries its own time and a random suffix.
    const members = events.flatMap((e) => [e.at, JSON.stringify({ ...e, n: crypto.randomUUID().slice(0, 8) })]);
    // Trimmed on write, and the set expires `retentionMs` after its last event, so a quiet account's trail goes too.
    await this.redis.transaction([['zadd', key, ...members], ['zremrangebyscore', key, '-inf', `(${events[0]!.at - retentionMs}`], ['pexpire', key, retentionMs]]);
  }

  async auditLog(account: string, from: number, to: number, limit: number): Promise<AuditEvent[]> {
    const raw = (await this.redis.cmd('zrangebyscore', this.k(account, 'audit'), from, to, 'LIMIT', 0, limit)) as string[];
    return raw.map((r) => {
      const { n: _n, ...e } = JSON.parse(r) as AuditEvent & { n?: string };
      return e;
    });
  }

  async listKeys(account: string): Promise<KeyInfo[]> {
    const ids = ((await this.redis.cmd('zrange', this.k(account, 'keys'), 0, -1)) as string[]) ?? [];
    const replies = await this.redis.pipeline([...ids.map((id) => ['hgetall', this.k(account, `k:${id}`)]), ['hgetall', this.k(account, 'used')], ['hgetall', this.k(account, 'h')]]);
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
    const charged = wanted.length ? await this.redis.pipeline(wanted.map((id) => ['get', this.k(account, `ks:${id}`)])) : [];
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

  async listAccounts(after: string | null, limit: number): Promise<{ accounts: string[]; hasMore: boolean }> {
    const names = (await this.redis.cmd('zrangebylex', 'phi:accounts', after ? `(${after}` : '-', '+', 'LIMIT', 0, limit + 1)) as string[];
    return { accounts: names.slice(0, limit), hasMore: names.length > limit };
  }

  async adjust(req: AdjustRequest): Promise<AdjustResult> {
    const a = req.account;
    const usage: UsageRecord = { claim: req.id, amount_micro: -req.amount, memo: `adjustment: ${req.reason}`, at: req.now };
    const [status, value] = (await this.redis.script(ADJUST, [this.k(a, 'a'), this.k(a, 'h'), this.k(a, 'uz')], [req.now, req.amount, JSON.stringify(usage)])) as Reply;
    if (status === 'no_account') return { ok: false, reason: 'no_account' };
    if (status === 'insufficient') return { ok: false, reason: 'insufficient', availableMicro: Number(value) };
    return { ok: true, balance: Number(value) };
  }

  async credit(account: string, amount: number, create: boolean): Promise<number | null> {
    const balance = await this.redis.script(CREDIT, [this.k(account, 'a')], [amount, create ? 1 : 0]);
    if (balance === null) return null;
    if (create) await this.redis.cmd('zadd', 'phi:accounts', 0, account);
    return Number(balance);
  }

  async account(account: string, now: number, counter?: string): Promise<AccountView | null> {
    const [rawA, rawHolds, usage, rawUsed, charged] = await this.redis.pipeline([
      ['hgetall', this.k(account, 'a')],
      ['hgetall', this.k(account, 'h')],
      ['zrevrange', this.k(account, 'uz'), 0, USAGE_KEEP - 1],
      ['hvals', this.k(account, 'used')],
      ...(counter !== undefined ? [['get', this.k(account, `ks:${counter}`)]] : []),
    ]);
    const a = pairs(rawA);
    const used = ((rawUsed as string[] | null) ?? []).map(Number);
    // No balance, but keys were used here (the shared test key's free tier): an account of $0.
    if (a.balance === undefined && !used.length) return null;
    const holds = heldBy(rawHolds, now);
    const view: AccountView = {
      account,
      balance_micro: Number(a.balance ?? 0),
      held_micro: holds.total,
      spent_micro: Number(a.spent ?? 0),
      charges: Number(a.charges ?? 0),
      usage: (usage as string[]).map((u) => JSON.parse(u) as UsageRecord),
      last_used_at: used.length ? Math.max(...used) : null,
    };
    if (counter !== undefined) view.counter = { charged: Number(charged ?? 0), held: holds.by.get(counter) ?? 0 } satisfies CounterView;
    return view;
  }

  async activity(account: string, from: number, to: number): Promise<Activity> {
    const days: string[] = [];
    for (let d = Math.floor(from / 86_400_000); d <= Math.floor(to / 86_400_000) && days.length < 500; d++) days.push(this.k(account, `rf:${d}`));
    const replies = await this.redis.pipeline([['zrangebyscore', this.k(account, 'lat'), from, to, 'WITHSCORES', 'LIMIT', 0, 100_000], ...days.map((k) => ['hgetall', k])]);
    const raw = (replies[0] as string[] | null) ?? [];
    const samples: Activity['samples'] = [];
    for (let i = 0; i + 1 < raw.length; i += 2) {
      // member: claim|ms|code (the claim never holds '|')
      const [claim, ms, code] = String(raw[i]).split('|');
      samples.push({ claim: claim!, at: Number(raw[i + 1]), ms: Number(ms), code: code || null });
    }
    const refusals: Activity['refusals'] = [];
    const [fromMin, toMin] = [Math.floor(from / 60_000), Math.floor(to / 60_000)];
    for (const reply of replies.slice(1)) {
      for (const [field, n] of Object.entries(pairs(reply))) {
        // field: minute|key id|model|code
        const [minute, keyId, model, code] = field.split('|');
        if (Number(minute) < fromMin || Number(minute) > toMin) continue;
        refusals.push({ minute: Number(minute), keyId: keyId!, model: model || null, code: code!, n: Number(n) });
      }
    }
    refusals.sort((x, y) => x.minute - y.minute);
    return { refusals, samples };
  }

  async admit(req: AdmitRequest): Promise<AdmitResult> {
    const a = req.account;
    const usage: UsageRecord | null = req.charge ? { claim: req.charge.id, amount_micro: req.charge.amount, memo: req.charge.memo, at: req.now } : null;
    const keys = [
      this.k(a, 'a'),
      this.k(a, 'h'),
      req.charge ? this.k(a, `c:${req.charge.id}`) : '',
      this.k(a, `rl:${req.keyId}`),
      req.idem ? this.k(a, `i:${req.idem.key}`) : '',
      req.hold ? this.k(a, `hx:${req.hold.id}`) : '',
      this.k(a, 'uz'),
      req.lookup ? this.k(a, `j:${req.lookup}`) : '',
      req.list ? this.k(a, 'jobs') : '',
      req.keyId.startsWith('system') ? '' : this.k(a, 'used'),
      req.budget ? this.k(a, `ks:${req.budget.id}`) : '',
      req.budget && req.charge ? this.k(a, `cb:${req.charge.id}`) : '',
      req.charge || req.hold ? this.k(a, `rf:${Math.floor(req.now / 86_400_000)}`) : '',
      req.samples?.length ? this.k(a, 'lat') : '',
    ];
    const args = [
      req.now,
      req.rpm,
      req.charge?.amount ?? 0,
      req.hold?.id ?? '',
      req.hold?.amount ?? 0,
      (req.hold?.ttlSec ?? 0) * 1000,
      req.idem?.fingerprint ?? '',
      (req.idem?.pendingTtlSec ?? 0) * 1000,
      CLAIM_TTL_SEC * 1000,
      usage ? JSON.stringify(usage) : '',
      req.list?.order ?? '',
      req.list?.limit ?? 0,
      req.list?.after?.createdAt ?? '',
      req.list?.after?.key ?? '',
      this.k(a, 'j:'),
      req.keyId.replace(/:read$/, ''),
      req.budget?.limit ?? '',
      req.budget?.id ?? '',
      req.budget?.until ?? 0,
      `${Math.floor(req.now / 60_000)}|${req.keyId}|${req.model ?? ''}|`,
      // One member per claim (its sample never changes), so an admit sent again adds nothing.
      req.samples?.length ? JSON.stringify(req.samples.flatMap((x) => [x.at, `${x.claim}|${x.ms}|${x.code ?? ''}`])) : '',
    ];
    const reply = (await this.redis.script(ADMIT, keys, args)) as Reply;
    const [status, value] = reply;
    const text = (v: unknown) => (typeof v === 'string' ? v : null);
    switch (status) {
      case 'list': {
        const jobs: JobRecord[] = [];
        for (let i = 1; i + 4 < reply.length; i += 5) {
          jobs.push({ key: String(reply[i]), id: String(reply[i + 1]), createdAt: Number(reply[i + 2]), state: text(reply[i + 3]), from: text(reply[i + 4]) });
        }
        const limit = req.list!.limit;
        return { ok: true, jobs: jobs.slice(0, limit), hasMore: jobs.length > limit };
      }
      case 'ok':
        if (!req.lookup) return { ok: true };
        // Redis turns a Lua false into nil: a missing job is {'ok'} or {'ok', nil}.
        return { ok: true, job: value ? { key: req.lookup, id: String(value), createdAt: Number(reply[2]), state: text(reply[3]), from: text(reply[4]), meta: text(reply[5]) } : null };
      case 'rate_limited':
        return { ok: false, reason: 'rate_limited', retryAfterSec: Number(value) };
      case 'insufficient':
        return { ok: false, reason: 'insufficient', availableMicro: Number(value) };
      case 'budget_exceeded':
        return { ok: false, reason: 'budget_exceeded', remainingMicro: Number(value) };
      case 'replay':
        return { ok: false, reason: 'replay', response: String(value) };
      case 'in_flight':
      case 'idem_mismatch':
      case 'void':
        return { ok: false, reason: status };
      default:
        throw new Error('unexpected admit reply');
    }
  }

  async settle(req: SettleRequest): Promise<SettleResult> {
    const usage: UsageRecord = { claim: req.claim, amount_micro: req.amount, memo: req.memo, at: req.now };
    const keys = [
      this.k(req.account, 'a'),
      this.k(req.account, 'h'),
      this.k(req.account, `c:${req.claim}`),
      this.k(req.account, 'uz'),
      req.holdId ? this.k(req.account, `hx:${req.holdId}`) : '',
      this.k(req.account, `j:${req.claim}`),
    ];
    const args = [req.now, req.amount, req.holdId ?? '', JSON.stringify(usage), CLAIM_TTL_SEC * 1000, req.state ?? '', req.record ? '1' : '', this.k(req.account, 'ks:')];
    const [status, a, b, state] = (await this.redis.script(SETTLE, keys, args)) as Reply;
    if (status === 'insufficient') return { ok: false, reason: 'insufficient', availableMicro: Number(a) };
    return { ok: true, charged: status === 'ok', amount: Number(a), balance: Number(b), state: typeof state === 'string' ? state : null };
  }

  async refund(req: RefundRequest): Promise<number> {
    const keys = [this.k(req.account, 'a'), this.k(req.account, `c:${req.claim}`), this.k(req.account, 'uz'), this.k(req.account, `cb:${req.claim}`)];
    return Number(await this.redis.script(REFUND, keys, [req.keep, req.now, CLAIM_TTL_SEC * 1000, req.claim, this.k(req.account, 'ks:')]));
  }

  async release(req: ReleaseRequest): Promise<void> {
    const keys = [
      this.k(req.account, 'h'),
      req.holdId ? this.k(req.account, `hx:${req.holdId}`) : '',
      req.idemKey ? this.k(req.account, `i:${req.idemKey}`) : '',
    ];
    await this.redis.script(RELEASE, keys, [req.holdId ?? '', req.idemOwner ? String(req.idemOwner.at) : '']);
  }

  async remember(req: RememberRequest): Promise<void> {
    const { idem, job } = req;
    const keys = [idem ? this.k(req.account, `i:${idem.key}`) : '', job ? this.k(req.account, `j:${job.key}`) : '', this.k(req.account, 'jobs')];
    const args = [idem?.fingerprint ?? '', idem?.response ?? '', (idem?.ttlSec ?? 0) * 1000, job?.id ?? '', job?.createdAt ?? 0, JOB_TTL_SEC * 1000, job?.key ?? '', job?.from ?? '', job?.meta ?? ''];
    await this.redis.script(REMEMBER, keys, args);
  }

  async discard(req: DiscardRequest): Promise<boolean> {
    const a = req.account;
    const keys = [this.k(a, `c:${req.key}`), this.k(a, 'h'), req.holdId ? this.k(a, `hx:${req.holdId}`) : '', this.k(a, `j:${req.key}`), this.k(a, 'jobs')];
    const args = [req.holdId ?? '', req.state, CLAIM_TTL_SEC * 1000, Math.floor(req.now / 1000), JOB_TTL_SEC * 1000, req.key];
    return Number(await this.redis.script(DISCARD, keys, args)) === 1;
  }

  async usage(account: string, from: number, to: number, limit: number): Promise<UsageRecord[]> {
    const raw = (await this.redis.cmd('zrangebyscore', this.k(account, 'uz'), from, to, 'LIMIT', 0, limit)) as string[];
    return raw.map((r) => JSON.parse(r) as UsageRecord);
  }

  async setWebhook(account: string, hook: WebhookConfig | null): Promise<boolean> {
    const args = hook ? [hook.url, hook.nonce, hook.createdAt] : ['', '', 0];
    return Number(await this.redis.script(SET_WEBHOOK, [this.k(account, 'a'), this.k(account, 'w')], args)) === 1;
  }

  async getWebhook(account: string): Promise<WebhookConfig | null> {
    const h = pairs(await this.redis.cmd('hgetall', this.k(account, 'w')));
    return h.url ? { url: h.url, nonce: String(h.nonce), createdAt: Number(h.created_at) } : null;
  }

  /**
   * Erase: the money and the tombstone in one script (ERASE); then the global records of the account's keys; then
   * every `phi:{account}:*` key but the audit trail (SCAN — a rare operator call; a retry after a timeout finishes
   * the job), collecting the job ids first; then its entry in the account list.
   */
  async eraseAccount(req: EraseRequest): Promise<EraseResult> {
    const a = req.account;
    const keys = [this.k(a, 'a'), this.k(a, 'h'), this.k(a, 'keys'), this.k(a, 'audit'), this.k(a, 'jobs')];
    const args = [req.now, req.force ? '1' : '', req.requestId ?? '', crypto.randomUUID().slice(0, 8), req.auditRetentionMs ?? ''];
    const [status, bal, hold, ...ids] = (await this.redis.script(ERASE, keys, args)) as Reply;
    if (status === 'not_empty') return { ok: false, reason: 'not_empty', balance: Number(bal), held: Number(hold) };
    const keyIds = ids.map(String);
    if (keyIds.length) {
      const hashes = await this.redis.pipeline(keyIds.map((id) => ['hget', this.k(a, `k:${id}`), 'hash']));
      const globals = keyIds.flatMap((id, i) => [`phi:kid:${id}`, `phi:kacct:${id}`, ...(typeof hashes[i] === 'string' ? [`phi:key:${hashes[i]}`] : [])]);
      await this.redis.pipeline(globals.map((k) => ['del', k]));
    }
    const audit = this.k(a, 'audit');
    const jobPrefix = this.k(a, 'j:');
    const jobIds = new Set<string>();
    let cursor = '0';
    do {
      const [next, found] = (await this.redis.cmd('scan', cursor, 'MATCH', `phi:{${a}}:*`, 'COUNT', 5000)) as [string, string[]];
      cursor = String(next);
      const doomed = [...new Set(found)].filter((k) => k !== audit);
      const jobKeys = doomed.filter((k) => k.startsWith(jobPrefix));
      if (jobKeys.length) {
        for (const id of await this.redis.pipeline(jobKeys.map((k) => ['hget', k, 'id']))) if (typeof id === 'string' && id) jobIds.add(id);
      }
      if (doomed.length) await this.redis.pipeline(doomed.map((k) => ['del', k]));
    } while (cursor !== '0');
    await this.redis.cmd('zrem', 'phi:accounts', a);
    return { ok: true, already: status !== 'ok', balance: Number(bal), held: Number(hold), keys: keyIds.length, jobIds: [...jobIds] };
  }
}
