// Video jobs on Upstash: what a finished request leaves behind (its Idempotency-Key response, its job's record and
// index entry) and the deletion of a job, each one Lua script.
import type { RestRedis } from '../rest';
import { CLAIM_TTL_SEC, JOB_TTL_SEC, RELEASED_HOLD_TTL_MS } from '../limits';
import type { DiscardRequest, RememberRequest } from '../types';
import { k } from './store';

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

export async function remember(redis: RestRedis, req: RememberRequest): Promise<void> {
  const { idem, job } = req;
  const keys = [idem ? k(req.account, `i:${idem.key}`) : '', job ? k(req.account, `j:${job.key}`) : '', k(req.account, 'jobs')];
  const args = [idem?.fingerprint ?? '', idem?.response ?? '', (idem?.ttlSec ?? 0) * 1000, job?.id ?? '', job?.createdAt ?? 0, JOB_TTL_SEC * 1000, job?.key ?? '', job?.from ?? '', job?.meta ?? ''];
  await redis.script(REMEMBER, keys, args);
}

export async function discard(redis: RestRedis, req: DiscardRequest): Promise<boolean> {
  const a = req.account;
  const keys = [k(a, `c:${req.key}`), k(a, 'h'), req.holdId ? k(a, `hx:${req.holdId}`) : '', k(a, `j:${req.key}`), k(a, 'jobs')];
  const args = [req.holdId ?? '', req.state, CLAIM_TTL_SEC * 1000, Math.floor(req.now / 1000), JOB_TTL_SEC * 1000, req.key];
  return Number(await redis.script(DISCARD, keys, args)) === 1;
}
