// The admit on Upstash: everything checked before an upstream call in one Lua script (one EVALSHA, one round
// trip): rate limit, idempotency, charge or hold under the balance and the key's budget, a job lookup or page.
import type { RestRedis } from '../rest';
import { CLAIM_TTL_SEC, RATE_WINDOW_MS, USAGE_RETENTION_MS } from '../limits';
import type { AdmitRequest, AdmitResult, JobRecord, UsageRecord } from '../types';
import { HELD } from './held';
import { k, type Reply } from './store';

// KEYS: account, holds, claim|'', rate, idem|'', released-hold|'', usage, lookup|'', job index|'', key last use|'',
//       budget counter|'', claim's counter|'', refusals of the day|'', samples|''
// ARGV: now, rpm, chargeAmount, holdId, holdAmount, holdTtlMs, fp, pendingTtlMs, claimTtlMs, usageJson,
//       list order ('asc'|'desc'|''), list limit, after createdAt|'', after key, job key prefix, key id,
//       budget limit|'', budget counter id, counter kept until (ms, 0 = kept), refusal field prefix, samples json|''
export const ADMIT = `${HELD}
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

export async function admit(redis: RestRedis, req: AdmitRequest): Promise<AdmitResult> {
  const a = req.account;
  const usage: UsageRecord | null = req.charge ? { claim: req.charge.id, amount_micro: req.charge.amount, memo: req.charge.memo, at: req.now } : null;
  const keys = [
    k(a, 'a'),
    k(a, 'h'),
    req.charge ? k(a, `c:${req.charge.id}`) : '',
    k(a, `rl:${req.keyId}`),
    req.idem ? k(a, `i:${req.idem.key}`) : '',
    req.hold ? k(a, `hx:${req.hold.id}`) : '',
    k(a, 'uz'),
    req.lookup ? k(a, `j:${req.lookup}`) : '',
    req.list ? k(a, 'jobs') : '',
    req.keyId.startsWith('system') ? '' : k(a, 'used'),
    req.budget ? k(a, `ks:${req.budget.id}`) : '',
    req.budget && req.charge ? k(a, `cb:${req.charge.id}`) : '',
    req.charge || req.hold ? k(a, `rf:${Math.floor(req.now / 86_400_000)}`) : '',
    req.samples?.length ? k(a, 'lat') : '',
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
    k(a, 'j:'),
    req.keyId.replace(/:read$/, ''),
    req.budget?.limit ?? '',
    req.budget?.id ?? '',
    req.budget?.until ?? 0,
    `${Math.floor(req.now / 60_000)}|${req.keyId}|${req.model ?? ''}|`,
    // One member per claim (its sample never changes), so an admit sent again adds nothing.
    req.samples?.length ? JSON.stringify(req.samples.flatMap((x) => [x.at, `${x.claim}|${x.ms}|${x.code ?? ''}`])) : '',
  ];
  const reply = (await redis.script(ADMIT, keys, args)) as Reply;
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
