// Live holds, the one piece of Lua several scripts share (HELD: the sum of an account's unexpired holds, pruning
// expired ones), and its read-only twin in TypeScript for the operator views.
import { pairs } from './store';

// Sum of unexpired active holds ("amount:expiresAtMs", or "amount:expiresAtMs:budget counter"), pruning expired
// ones, and (second value) of those made under `counter`. Only live holds are in this hash.
export const HELD = `
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

/** Live holds per budget counter, from the holds hash ("amount:expires[:counter]"). */
export function heldBy(raw: unknown, now: number): { total: number; by: Map<string, number> } {
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
