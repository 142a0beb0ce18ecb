// Erasing an account on Upstash: the money and the tombstone in one script (ERASE), then the account's global key
// records, then every phi:{account}:* key but the audit trail, then its entry in the account list.
import type { RestRedis } from '../rest';
import { ERASED_EVENT, type EraseRequest, type EraseResult } from '../types';
import { HELD } from './held';
import { k, type Reply } from './store';

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

/**
 * Erase: the money and the tombstone in one script (ERASE); then the global records of the account's keys; then
 * every `phi:{account}:*` key but the audit trail (SCAN — a rare operator call; a retry after a timeout finishes
 * the job), collecting the job ids first; then its entry in the account list.
 */
export async function eraseAccount(redis: RestRedis, req: EraseRequest): Promise<EraseResult> {
  const a = req.account;
  const keys = [k(a, 'a'), k(a, 'h'), k(a, 'keys'), k(a, 'audit'), k(a, 'jobs')];
  const args = [req.now, req.force ? '1' : '', req.requestId ?? '', crypto.randomUUID().slice(0, 8), req.auditRetentionMs ?? ''];
  const [status, bal, hold, ...ids] = (await redis.script(ERASE, keys, args)) as Reply;
  if (status === 'not_empty') return { ok: false, reason: 'not_empty', balance: Number(bal), held: Number(hold) };
  const keyIds = ids.map(String);
  if (keyIds.length) {
    const hashes = await redis.pipeline(keyIds.map((id) => ['hget', k(a, `k:${id}`), 'hash']));
    const globals = keyIds.flatMap((id, i) => [`phi:kid:${id}`, `phi:kacct:${id}`, ...(typeof hashes[i] === 'string' ? [`phi:key:${hashes[i]}`] : [])]);
    await redis.pipeline(globals.map((k) => ['del', k]));
  }
  const audit = k(a, 'audit');
  const jobPrefix = k(a, 'j:');
  const jobIds = new Set<string>();
  let cursor = '0';
  do {
    const [next, found] = (await redis.cmd('scan', cursor, 'MATCH', `phi:{${a}}:*`, 'COUNT', 5000)) as [string, string[]];
    cursor = String(next);
    const doomed = [...new Set(found)].filter((k) => k !== audit);
    const jobKeys = doomed.filter((k) => k.startsWith(jobPrefix));
    if (jobKeys.length) {
      for (const id of await redis.pipeline(jobKeys.map((k) => ['hget', k, 'id']))) if (typeof id === 'string' && id) jobIds.add(id);
    }
    if (doomed.length) await redis.pipeline(doomed.map((k) => ['del', k]));
  } while (cursor !== '0');
  await redis.cmd('zrem', 'phi:accounts', a);
  return { ok: true, already: status !== 'ok', balance: Number(bal), held: Number(hold), keys: keyIds.length, jobIds: [...jobIds] };
}
