// What an account's store reports on Upstash: the account view (money, recent usage, a spend counter), usage
// records, the audit trail, and activity (refusal counts and outcome samples). Reads, plus the audit append.
import type { RestRedis } from '../rest';
import { USAGE_KEEP } from '../limits';
import type { AccountView, Activity, AuditEvent, CounterView, UsageRecord } from '../types';
import { heldBy } from './held';
import { k, pairs } from './store';

export async function account(redis: RestRedis, account: string, now: number, counter?: string): Promise<AccountView | null> {
  const [rawA, rawHolds, usage, rawUsed, charged] = await redis.pipeline([
    ['hgetall', k(account, 'a')],
    ['hgetall', k(account, 'h')],
    ['zrevrange', k(account, 'uz'), 0, USAGE_KEEP - 1],
    ['hvals', k(account, 'used')],
    ...(counter !== undefined ? [['get', k(account, `ks:${counter}`)]] : []),
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

export async function usage(redis: RestRedis, account: string, from: number, to: number, limit: number): Promise<UsageRecord[]> {
  const raw = (await redis.cmd('zrangebyscore', k(account, 'uz'), from, to, 'LIMIT', 0, limit)) as string[];
  return raw.map((r) => JSON.parse(r) as UsageRecord);
}

export async function audit(redis: RestRedis, account: string, events: AuditEvent[], retentionMs: number): Promise<void> {
  if (!events.length) return;
  const key = k(account, 'audit');
  // Members are unique: each event carries its own time and a random suffix.
  const members = events.flatMap((e) => [e.at, JSON.stringify({ ...e, n: crypto.randomUUID().slice(0, 8) })]);
  // Trimmed on write, and the set expires `retentionMs` after its last event, so a quiet account's trail goes too.
  await redis.transaction([['zadd', key, ...members], ['zremrangebyscore', key, '-inf', `(${events[0]!.at - retentionMs}`], ['pexpire', key, retentionMs]]);
}

export async function auditLog(redis: RestRedis, account: string, from: number, to: number, limit: number): Promise<AuditEvent[]> {
  const raw = (await redis.cmd('zrangebyscore', k(account, 'audit'), from, to, 'LIMIT', 0, limit)) as string[];
  return raw.map((r) => {
    const { n: _n, ...e } = JSON.parse(r) as AuditEvent & { n?: string };
    return e;
  });
}

export async function activity(redis: RestRedis, account: string, from: number, to: number): Promise<Activity> {
  const days: string[] = [];
  for (let d = Math.floor(from / 86_400_000); d <= Math.floor(to / 86_400_000) && days.length < 500; d++) days.push(k(account, `rf:${d}`));
  const replies = await redis.pipeline([['zrangebyscore', k(account, 'lat'), from, to, 'WITHSCORES', 'LIMIT', 0, 100_000], ...days.map((k) => ['hgetall', k])]);
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
