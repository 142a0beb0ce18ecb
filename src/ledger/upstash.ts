// The production ledger on Upstash Redis (REST). Every multi-step money operation is one Lua script, so it is
// atomic on the server and costs one HTTP round trip. Per-account keys share the hash tag {account}.

import { Redis } from '@upstash/redis/cloudflare';
import {
  CLAIM_TTL_SEC,
  USAGE_KEEP,
  type AccountView,
  type AdmitRequest,
  type AdmitResult,
  type KeyRecord,
  type Ledger,
  type ReleaseRequest,
  type SettleRequest,
  type SettleResult,
  type UsageRecord,
} from './types';

// Sum of unexpired holds, pruning the expired ones. Hold values are "amount:expiresAtMs".
const HELD = `
local function held(hkey, now)
  local all = redis.call('HGETALL', hkey)
  local total = 0
  for i = 1, #all, 2 do
    local amt, exp = string.match(all[i + 1], '^(%d+):(%d+)$')
    if tonumber(exp) <= now then redis.call('HDEL', hkey, all[i]) else total = total + tonumber(amt) end
  end
  return total
end
local now = tonumber(ARGV[1])
`;

// KEYS: account, holds, rate window, idem|''  ARGV: now, rpm, holdId, holdAmount, holdTtlMs, fp, pendingTtlMs, windowEndMs
const ADMIT = `${HELD}
if KEYS[4] ~= '' then
  local r = redis.call('HMGET', KEYS[4], 'fp', 'r')
  if r[1] then
    if r[1] ~= ARGV[6] then return {'idem_mismatch'} end
    if r[2] then return {'replay', r[2]} end
    return {'in_flight'}
  end
end
local win_end = tonumber(ARGV[8])
local n = tonumber(redis.call('GET', KEYS[3]) or '0')
if n >= tonumber(ARGV[2]) then return {'rate_limited', math.max(1, math.ceil((win_end - now) / 1000))} end
redis.call('INCR', KEYS[3])
redis.call('PEXPIREAT', KEYS[3], win_end + 1000)
local amt = tonumber(ARGV[4])
if amt > 0 and redis.call('HEXISTS', KEYS[2], ARGV[3]) == 0 then
  local avail = tonumber(redis.call('HGET', KEYS[1], 'balance') or '0') - held(KEYS[2], now)
  if amt > avail then return {'insufficient', math.max(0, avail)} end
  redis.call('HSET', KEYS[2], ARGV[3], string.format('%d:%d', amt, now + tonumber(ARGV[5])))
end
if KEYS[4] ~= '' then
  redis.call('HSET', KEYS[4], 'fp', ARGV[6])
  redis.call('PEXPIRE', KEYS[4], ARGV[7])
end
return {'ok'}
`;

// KEYS: account, holds, claim, usage, idem|''  ARGV: now, amount, holdId, usageJson, claimTtlMs, response, idemTtlMs
const SETTLE = `${HELD}
if ARGV[3] ~= '' then redis.call('HDEL', KEYS[2], ARGV[3]) end
local bal = tonumber(redis.call('HGET', KEYS[1], 'balance') or '0')
local prior = redis.call('GET', KEYS[3])
if prior then return {'dup', tonumber(prior), bal} end
local amt = tonumber(ARGV[2])
local avail = bal - held(KEYS[2], now)
if amt > avail then return {'insufficient', math.max(0, avail)} end
if amt > 0 then
  redis.call('HINCRBY', KEYS[1], 'balance', -amt)
  redis.call('HINCRBY', KEYS[1], 'spent', amt)
  redis.call('HINCRBY', KEYS[1], 'charges', 1)
  redis.call('LPUSH', KEYS[4], ARGV[4])
  redis.call('LTRIM', KEYS[4], 0, ${USAGE_KEEP - 1})
end
redis.call('SET', KEYS[3], amt, 'PX', ARGV[5])
if KEYS[5] ~= '' then
  redis.call('HSET', KEYS[5], 'r', ARGV[6])
  redis.call('PEXPIRE', KEYS[5], ARGV[7])
end
return {'ok', amt, bal - amt}
`;

// KEYS: holds, idem|''  ARGV: holdId
const RELEASE = `
if ARGV[1] ~= '' then redis.call('HDEL', KEYS[1], ARGV[1]) end
if KEYS[2] ~= '' and redis.call('HEXISTS', KEYS[2], 'r') == 0 then redis.call('DEL', KEYS[2]) end
return 1
`;

// KEYS: account  ARGV: amount, create (1|0) → new balance, or nil when the account does not exist
const CREDIT = `
if ARGV[2] ~= '1' and redis.call('EXISTS', KEYS[1]) == 0 then return false end
return redis.call('HINCRBY', KEYS[1], 'balance', ARGV[1])
`;

type Reply = [string, ...(string | number)[]];

/** HGETALL without automatic deserialization is a flat [field, value, …] list. */
function pairs(raw: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (Array.isArray(raw)) for (let i = 0; i + 1 < raw.length; i += 2) out[String(raw[i])] = String(raw[i + 1]);
  return out;
}

export class UpstashLedger implements Ledger {
  private readonly redis: Redis;
  private readonly admitScript;
  private readonly settleScript;
  private readonly releaseScript;
  private readonly creditScript;

  constructor(opts: { url: string; token: string }) {
    // retry: false — a blind retry of a money operation is not ours to make; failures surface as 503.
    this.redis = new Redis({ url: opts.url, token: opts.token, retry: false, automaticDeserialization: false, enableTelemetry: false });
    this.admitScript = this.redis.createScript<Reply>(ADMIT);
    this.settleScript = this.redis.createScript<Reply>(SETTLE);
    this.releaseScript = this.redis.createScript<Reply>(RELEASE);
    this.creditScript = this.redis.createScript<number | null>(CREDIT);
  }

  private k(account: string, part: string) {
    return `phi:{${account}}:${part}`;
  }

  async findKey(hash: string): Promise<KeyRecord | null> {
    const h = pairs(await this.redis.hgetall(`phi:key:${hash}`));
    if (!h.id) return null;
    return { keyId: h.id, account: String(h.account), tier: h.tier as KeyRecord['tier'], rpm: Number(h.rpm) };
  }

  async issueKey(hash: string, rec: KeyRecord, credits: number): Promise<void> {
    const tx = this.redis.multi();
    tx.hincrby(this.k(rec.account, 'a'), 'balance', credits);
    tx.hset(`phi:key:${hash}`, { id: rec.keyId, account: rec.account, tier: rec.tier, rpm: rec.rpm });
    tx.set(`phi:kid:${rec.keyId}`, hash);
    await tx.exec();
  }

  async revokeKey(keyId: string): Promise<boolean> {
    const hash = await this.redis.get<string>(`phi:kid:${keyId}`);
    if (!hash) return false;
    const tx = this.redis.multi();
    tx.del(`phi:key:${hash}`);
    tx.del(`phi:kid:${keyId}`);
    await tx.exec();
    return true;
  }

  async credit(account: string, amount: number, create: boolean): Promise<number | null> {
    const balance = await this.creditScript.exec([this.k(account, 'a')], [String(amount), create ? '1' : '0']);
    return balance === null ? null : Number(balance);
  }

  async account(account: string, now: number): Promise<AccountView | null> {
    const p = this.redis.pipeline();
    p.hgetall(this.k(account, 'a'));
    p.hgetall(this.k(account, 'h'));
    p.lrange(this.k(account, 'u'), 0, USAGE_KEEP - 1);
    const [rawA, rawHolds, usage] = (await p.exec()) as [unknown, unknown, string[]];
    const a = pairs(rawA);
    if (a.balance === undefined) return null;
    let held = 0;
    for (const v of Object.values(pairs(rawHolds))) {
      const [amt, exp] = String(v).split(':').map(Number);
      if (exp! > now) held += amt!;
    }
    return {
      account,
      balance_micro: Number(a.balance),
      held_micro: held,
      spent_micro: Number(a.spent ?? 0),
      charges: Number(a.charges ?? 0),
      usage: usage.map((u) => JSON.parse(u) as UsageRecord),
    };
  }

  async admit(req: AdmitRequest): Promise<AdmitResult> {
    const win = Math.floor(req.now / 60_000);
    const keys = [
      this.k(req.account, 'a'),
      this.k(req.account, 'h'),
      this.k(req.account, `rl:${req.keyId}:${win}`),
      req.idem ? this.k(req.account, `i:${req.idem.key}`) : '',
    ];
    const args = [
      req.now,
      req.rpm,
      req.hold?.id ?? '',
      req.hold?.amount ?? 0,
      (req.hold?.ttlSec ?? 0) * 1000,
      req.idem?.fingerprint ?? '',
      (req.idem?.pendingTtlSec ?? 0) * 1000,
      (win + 1) * 60_000,
    ].map(String);
    const [status, value] = await this.admitScript.exec(keys, args);
    switch (status) {
      case 'ok':
        return { ok: true };
      case 'rate_limited':
        return { ok: false, reason: 'rate_limited', retryAfterSec: Number(value) };
      case 'insufficient':
        return { ok: false, reason: 'insufficient', availableMicro: Number(value) };
      case 'replay':
        return { ok: false, reason: 'replay', response: String(value) };
      case 'in_flight':
      case 'idem_mismatch':
        return { ok: false, reason: status };
      default:
        throw new Error(`unexpected admit reply ${status}`);
    }
  }

  async settle(req: SettleRequest): Promise<SettleResult> {
    const usage: UsageRecord = { claim: req.claim, amount_micro: req.amount, memo: req.memo, at: req.now };
    const keys = [
      this.k(req.account, 'a'),
      this.k(req.account, 'h'),
      this.k(req.account, `c:${req.claim}`),
      this.k(req.account, 'u'),
      req.idem ? this.k(req.account, `i:${req.idem.key}`) : '',
    ];
    const args = [
      req.now,
      req.amount,
      req.holdId ?? '',
      JSON.stringify(usage),
      CLAIM_TTL_SEC * 1000,
      req.idem?.response ?? '',
      (req.idem?.ttlSec ?? 0) * 1000,
    ].map(String);
    const [status, a, b] = await this.settleScript.exec(keys, args);
    if (status === 'insufficient') return { ok: false, reason: 'insufficient', availableMicro: Number(a) };
    return { ok: true, charged: status === 'ok', amount: Number(a), balance: Number(b) };
  }

  async release(req: ReleaseRequest): Promise<void> {
    const keys = [this.k(req.account, 'h'), req.idemKey ? this.k(req.account, `i:${req.idemKey}`) : ''];
    await this.releaseScript.exec(keys, [req.holdId ?? '']);
  }
}
