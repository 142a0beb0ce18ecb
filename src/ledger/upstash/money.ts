// Money on Upstash, each operation one Lua script (atomic, one round trip): settle (a hold into a charge), refund,
// release, signed adjustments and credits. The admit (charge or hold) is in admit.ts.
import type { RestRedis } from '../rest';
import { CLAIM_TTL_SEC, RELEASED_HOLD_TTL_MS, USAGE_RETENTION_MS } from '../limits';
import type { AdjustRequest, AdjustResult, RefundRequest, ReleaseRequest, SettleRequest, SettleResult, UsageRecord } from '../types';
import { HELD } from './held';
import { k, type Reply } from './store';

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

// KEYS: account  ARGV: amount, create (1|0) → new balance, or nil when the account does not exist
const CREDIT = `
if ARGV[2] ~= '1' and redis.call('EXISTS', KEYS[1]) == 0 then return false end
return redis.call('HINCRBY', KEYS[1], 'balance', ARGV[1])
`;

export async function settle(redis: RestRedis, req: SettleRequest): Promise<SettleResult> {
  const usage: UsageRecord = { claim: req.claim, amount_micro: req.amount, memo: req.memo, at: req.now };
  const keys = [
    k(req.account, 'a'),
    k(req.account, 'h'),
    k(req.account, `c:${req.claim}`),
    k(req.account, 'uz'),
    req.holdId ? k(req.account, `hx:${req.holdId}`) : '',
    k(req.account, `j:${req.claim}`),
  ];
  const args = [req.now, req.amount, req.holdId ?? '', JSON.stringify(usage), CLAIM_TTL_SEC * 1000, req.state ?? '', req.record ? '1' : '', k(req.account, 'ks:')];
  const [status, a, b, state] = (await redis.script(SETTLE, keys, args)) as Reply;
  if (status === 'insufficient') return { ok: false, reason: 'insufficient', availableMicro: Number(a) };
  return { ok: true, charged: status === 'ok', amount: Number(a), balance: Number(b), state: typeof state === 'string' ? state : null };
}

export async function refund(redis: RestRedis, req: RefundRequest): Promise<number> {
  const keys = [k(req.account, 'a'), k(req.account, `c:${req.claim}`), k(req.account, 'uz'), k(req.account, `cb:${req.claim}`)];
  return Number(await redis.script(REFUND, keys, [req.keep, req.now, CLAIM_TTL_SEC * 1000, req.claim, k(req.account, 'ks:')]));
}

export async function release(redis: RestRedis, req: ReleaseRequest): Promise<void> {
  const keys = [
    k(req.account, 'h'),
    req.holdId ? k(req.account, `hx:${req.holdId}`) : '',
    req.idemKey ? k(req.account, `i:${req.idemKey}`) : '',
  ];
  await redis.script(RELEASE, keys, [req.holdId ?? '', req.idemOwner ? String(req.idemOwner.at) : '']);
}

export async function adjust(redis: RestRedis, req: AdjustRequest): Promise<AdjustResult> {
  const a = req.account;
  const usage: UsageRecord = { claim: req.id, amount_micro: -req.amount, memo: `adjustment: ${req.reason}`, at: req.now };
  const [status, value] = (await redis.script(ADJUST, [k(a, 'a'), k(a, 'h'), k(a, 'uz')], [req.now, req.amount, JSON.stringify(usage)])) as Reply;
  if (status === 'no_account') return { ok: false, reason: 'no_account' };
  if (status === 'insufficient') return { ok: false, reason: 'insufficient', availableMicro: Number(value) };
  return { ok: true, balance: Number(value) };
}

export async function credit(redis: RestRedis, account: string, amount: number, create: boolean): Promise<number | null> {
  const balance = await redis.script(CREDIT, [k(account, 'a')], [amount, create ? 1 : 0]);
  if (balance === null) return null;
  if (create) await redis.cmd('zadd', 'phi:accounts', 0, account);
  return Number(balance);
}
