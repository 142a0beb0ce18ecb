// Usage over a time range: GET /v1/usage (the calling key's account) and GET /admin/accounts/{a}/usage (JSON, or
// CSV with Accept: text/csv). `from` / `to` are unix seconds (default: the last 30 days), at most 400 days apart.
import type { Context } from 'hono';
import * as z from 'zod/mini';
import type { AppEnv } from '../app-env';
import { badRequest } from '../http/errors';
import { intLike, nullish, parse } from '../http/validate';
import { NOTE_SUFFIX, usageCsv, usageLine, usageLines } from '../pipeline/usage';

const DAY = 24 * 3600;
const MAX_RANGE = 400 * DAY;
export const USAGE_PAGE = 10_000;

export const rangeQuery = z.object({ from: nullish(intLike(0, 2 ** 32)), to: nullish(intLike(0, 2 ** 32)) });

const filter = z.optional(z.string({ error: 'must be a string' }).check(z.minLength(1, 'must not be empty'), z.maxLength(64, 'must be at most 64 characters')));
/** The audit export's filters: a range, an event type (`operator` also matches `operator.read`), an actor. */
export const auditQuery = z.object({ ...rangeQuery.shape, type: filter, actor: filter });

/** Who did it: the operator (its API), a customer key (its id), or the gateway itself (`system`: webhooks, the watcher). */
export function actorOf(type: string, keyId: string | null): string {
  if (type.startsWith('operator') || type === 'adjustment' || type === 'phi.policy' || type === 'media.erased' || type === 'account.erased') return 'operator';
  return keyId ?? 'system';
}

export async function usageFor(c: Context<AppEnv>, account: string) {
  const q = parse(rangeQuery, c.req.query());
  const to = q.to ?? Math.floor(Date.now() / 1000);
  const from = q.from ?? to - 30 * DAY;
  if (from > to) throw badRequest('from', "'from' must not be after 'to'");
  if (to - from > MAX_RANGE) throw badRequest('from', "'from' and 'to' must be at most 400 days apart");
  const records = await c.get('ledger').usage(account, from * 1000, to * 1000 + 999, USAGE_PAGE + 1);
  const data = usageLines(records.slice(0, USAGE_PAGE));
  const hasMore = records.length > USAGE_PAGE;
  if ((c.req.header('accept') ?? '').includes('text/csv')) {
    return c.body(usageCsv(data), 200, {
      'content-type': 'text/csv; charset=utf-8',
      'content-disposition': `attachment; filename="usage-${account}-${from}-${to}.csv"`,
      ...(hasMore && { 'x-has-more': 'true' }),
    });
  }
  const total = data.reduce((n, l) => n + l.cost_micro, 0);
  return c.json({ object: 'list', account, from, to, total_cost_micro: total, data, has_more: hasMore });
}

/**
 * The account's audit trail over a range, as JSON Lines: its audit events and its usage records (each generation with
 * request id, key id, model, units and cost; an image delivered as URLs also counts as `media.issued`), oldest first.
 */
export async function auditFor(c: Context<AppEnv>, account: string) {
  const q = parse(auditQuery, c.req.query());
  const to = q.to ?? Math.floor(Date.now() / 1000);
  const from = q.from ?? to - 30 * DAY;
  if (from > to) throw badRequest('from', "'from' must not be after 'to'");
  if (to - from > MAX_RANGE) throw badRequest('from', "'from' and 'to' must be at most 400 days apart");
  const ledger = c.get('ledger');
  const [events, usage] = await Promise.all([ledger.auditLog(account, from * 1000, to * 1000 + 999, USAGE_PAGE), ledger.usage(account, from * 1000, to * 1000 + 999, USAGE_PAGE)]);
  const lines: { at: number; type: string; request_id: string | null; key_id: string | null; detail: Record<string, unknown> }[] = [];
  for (const e of events) lines.push({ ...e, at: Math.floor(e.at / 1000) });
  for (const u of usage) {
    if (u.claim.endsWith(NOTE_SUFFIX)) continue; // a retry note: not a generation of its own
    const l = usageLine(u);
    const kind = l.type === 'refund' || l.type === 'adjustment' ? l.type : 'generation';
    const detail = { kind: l.type, model: l.model, units: l.units, unit: l.unit, cost_micro: l.cost_micro, video_id: l.video_id, reason: l.reason };
    lines.push({ at: l.at, type: kind, request_id: l.request_id, key_id: l.key_id, detail });
    const memo = u.memo.startsWith('{') ? (JSON.parse(u.memo) as { f?: string }) : {};
    if (memo.f === 'url') lines.push({ at: l.at, type: 'media.issued', request_id: l.request_id, key_id: l.key_id, detail: { kind: 'image', count: l.units } });
  }
  lines.sort((a, b) => a.at - b.at);
  const wanted = lines
    .map((l) => ({ account, at: l.at, type: l.type, actor: actorOf(l.type, l.key_id), request_id: l.request_id, key_id: l.key_id, detail: l.detail }))
    .filter((l) => (!q.type || l.type === q.type || l.type.startsWith(`${q.type}.`)) && (!q.actor || l.actor === q.actor));
  const body = wanted.map((l) => JSON.stringify(l)).join('\n');
  return c.body(body ? `${body}\n` : '', 200, {
    'content-type': 'application/x-ndjson; charset=utf-8',
    'content-disposition': `attachment; filename="audit-${account}-${from}-${to}.jsonl"`,
  });
}
