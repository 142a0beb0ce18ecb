// What an account object reports: usage rows, the audit trail, refusals and outcome samples (the statistics),
// and the account view (balance, holds, spend, recent usage).

import { USAGE_KEEP, type AccountView, type Activity, type AdmitRequest, type AuditEvent, type Sample, type UsageRecord } from '../types';
import { noteAuditRetention } from './expiry';
import type { Db } from './state';

export function appendAudit(db: Db, events: AuditEvent[], retentionMs: number): void {
  for (const e of events) db.sql.exec('INSERT INTO audit (at, event) VALUES (?, ?)', e.at, JSON.stringify(e));
  if (events.length) db.sql.exec('DELETE FROM audit WHERE at < ?', events[0]!.at - retentionMs);
  noteAuditRetention(db, retentionMs);
}

export function auditBetween(db: Db, from: number, to: number, limit: number): AuditEvent[] {
  return db.sql
    .exec('SELECT event FROM audit WHERE at >= ? AND at <= ? ORDER BY at, seq LIMIT ?', from, to, limit)
    .toArray()
    .map((r) => JSON.parse(String(r.event)) as AuditEvent);
}

export function usageBetween(db: Db, from: number, to: number, limit: number): UsageRecord[] {
  return db.sql
    .exec('SELECT claim, amount, memo, at FROM usage WHERE at >= ? AND at <= ? ORDER BY at, seq LIMIT ?', from, to, limit)
    .toArray()
    .map((u) => ({ claim: String(u.claim), amount_micro: Number(u.amount), memo: String(u.memo), at: Number(u.at) }));
}

// ---- statistics: refusals answered here, and outcome samples piggybacked on later admits ----
export function refused(db: Db, req: AdmitRequest, code: string): void {
  if (!req.charge && !req.hold) return; // generations only (reads have their own bucket and no price)
  db.sql.exec(
    'INSERT INTO refusals (minute, key_id, model, code, n) VALUES (?, ?, ?, ?, 1) ON CONFLICT (minute, key_id, model, code) DO UPDATE SET n = n + 1',
    Math.floor(req.now / 60_000), req.keyId, req.model ?? '', code,
  );
}

/** One multi-row INSERT per 16 samples (a batch rides on one admit); one per claim, so a resent admit adds none. */
export function noteSamples(db: Db, samples: Sample[]): void {
  for (let i = 0; i < samples.length; i += 16) {
    const batch = samples.slice(i, i + 16);
    db.sql.exec(`INSERT OR IGNORE INTO samples (claim, at, ms, code) VALUES ${batch.map(() => '(?, ?, ?, ?)').join(', ')}`, ...batch.flatMap((x) => [x.claim, x.at, x.ms, x.code]));
  }
}

export function activity(db: Db, from: number, to: number): Activity {
  const refusals = db.sql
    .exec('SELECT minute, key_id, model, code, n FROM refusals WHERE minute >= ? AND minute <= ? ORDER BY minute', Math.floor(from / 60_000), Math.floor(to / 60_000))
    .toArray()
    .map((r) => ({ minute: Number(r.minute), keyId: String(r.key_id), model: r.model ? String(r.model) : null, code: String(r.code), n: Number(r.n) }));
  const samples = db.sql
    .exec('SELECT claim, at, ms, code FROM samples WHERE at >= ? AND at <= ? ORDER BY at, claim LIMIT 100000', from, to)
    .toArray()
    .map((r) => ({ claim: String(r.claim), at: Number(r.at), ms: Number(r.ms), code: r.code === null ? null : String(r.code) }));
  return { refusals, samples };
}

export function view(db: Db, now: number, counter?: string, name?: string): AccountView | null {
  const row = db.one('SELECT name, balance, spent, charges FROM account WHERE id = 1');
  const last = db.one('SELECT MAX(at) AS at FROM key_used')?.at;
  // No balance, but keys were used here (the shared test key's free tier): an account of $0.
  if (!row && (last === null || last === undefined || name === undefined)) return null;
  const a = row ?? { name: name!, balance: 0, spent: 0, charges: 0 };
  const usage = db.sql
    .exec('SELECT claim, amount, memo, at FROM usage ORDER BY seq DESC LIMIT ?', USAGE_KEEP)
    .toArray()
    .map((u) => ({ claim: String(u.claim), amount_micro: Number(u.amount), memo: String(u.memo), at: Number(u.at) }));
  return {
    account: String(a.name),
    balance_micro: Number(a.balance),
    held_micro: db.held(now),
    spent_micro: Number(a.spent),
    charges: Number(a.charges),
    usage,
    last_used_at: last === null || last === undefined ? null : Number(last),
    ...(counter !== undefined && { counter: db.counterView(counter, now) }),
  };
}
