// Expiry and erasure on an account object: the bounded sweep on the request path, the alarm that sweeps a quiet
// object, and the account object's part of an erase.

import { ERASED_EVENT, USAGE_RETENTION_MS, type AuditEvent, type EraseResult } from '../types';
import { forgetDrained } from './limits';
import type { Db } from './state';

/** Expired rows are swept at most once a minute per object, a bounded batch per table (indexed by expiry). */
const SWEEP_EVERY_MS = 60_000;
const SWEEP = 1_000;
/**
 * Without traffic the request path never sweeps: an alarm does, so expired rows of a quiet account are deleted too —
 * at most hourly while any remain (every minute while a backlog is being worked off).
 */
const ALARM_EVERY_MS = 3_600_000;
const ALARM_BACKLOG_MS = 60_000;
/** Tables an erase keeps (the audit trail with the tombstone; schema bookkeeping). */
const KEPT_ON_ERASE = new Set(['audit', 'meta']);

/** Drops a bounded batch of expired rows from each table (indexed by expiry), at most once a minute. */
export function sweep(db: Db, now: number): void {
  if (now < db.nextSweep) return;
  db.nextSweep = now + SWEEP_EVERY_MS;
  db.sql.exec('DELETE FROM jobs WHERE key IN (SELECT key FROM jobs WHERE expires_at <= ? LIMIT ?)', now, SWEEP);
  db.sql.exec('DELETE FROM holds WHERE id IN (SELECT id FROM holds WHERE expires_at <= ? LIMIT ?)', now, SWEEP);
  db.sql.exec('DELETE FROM claims WHERE id IN (SELECT id FROM claims WHERE expires_at <= ? LIMIT ?)', now, SWEEP);
  db.sql.exec('DELETE FROM idem WHERE key IN (SELECT key FROM idem WHERE expires_at <= ? LIMIT ?)', now, SWEEP);
  db.sql.exec('DELETE FROM spend WHERE id IN (SELECT id FROM spend WHERE until > 0 AND until <= ? LIMIT ?)', now, SWEEP);
  forgetDrained(db, now);
  armExpiry(db);
}

/** Arms the expiry alarm once per object instance (the alarm re-arms itself while anything can still expire). */
function armExpiry(db: Db): void {
  if (db.alarmArmed) return;
  db.alarmArmed = true;
  // By the clock, not a caller's `now` (which may be a stated time).
  db.storage.setAlarm(Date.now() + ALARM_EVERY_MS).catch(() => (db.alarmArmed = false));
}

/** Remembers the audit retention the gateway writes with, so the alarm can trim a trail nobody writes to. */
export function noteAuditRetention(db: Db, ms: number): void {
  if (db.auditRetentionMs !== ms) {
    db.auditRetentionMs = ms;
    db.sql.exec("INSERT OR REPLACE INTO meta (k, v) VALUES ('audit_ms', ?)", ms);
  }
  armExpiry(db);
}

/**
 * Deletes what expired although the account made no request since (idempotency records, job index, holds,
 * claims, usage past its horizon, audit past its retention — an erased account's trail and tombstone included),
 * then re-arms for the next expiry, or not at all when nothing is left to expire.
 */
export async function alarm(db: Db): Promise<void> {
  const now = Date.now();
  db.nextSweep = 0;
  db.alarmArmed = true; // sweep() must not arm over the alarm computed below
  sweep(db, now);
  db.sql.exec('DELETE FROM usage WHERE seq IN (SELECT seq FROM usage WHERE at < ? LIMIT ?)', now - USAGE_RETENTION_MS, SWEEP);
  db.sql.exec('DELETE FROM samples WHERE claim IN (SELECT claim FROM samples WHERE at < ? LIMIT ?)', now - USAGE_RETENTION_MS, SWEEP);
  db.sql.exec('DELETE FROM refusals WHERE minute < ?', Math.floor((now - USAGE_RETENTION_MS) / 60_000));
  const auditMs = db.one("SELECT v FROM meta WHERE k = 'audit_ms'");
  if (auditMs) db.sql.exec('DELETE FROM audit WHERE seq IN (SELECT seq FROM audit WHERE at < ? LIMIT ?)', now - Number(auditMs.v), SWEEP);
  const min = (q: string, plus = 0) => {
    const t = db.one(q)?.t;
    return t === null || t === undefined ? Infinity : Number(t) + plus;
  };
  const next = Math.min(
    ...['jobs', 'holds', 'claims', 'idem'].map((t) => min(`SELECT MIN(expires_at) AS t FROM ${t}`)),
    min('SELECT MIN(at) AS t FROM usage', USAGE_RETENTION_MS),
    min('SELECT MIN(at) AS t FROM samples', USAGE_RETENTION_MS),
    min('SELECT MIN(until) AS t FROM spend WHERE until > 0'),
    auditMs ? min('SELECT MIN(at) AS t FROM audit', Number(auditMs.v)) : Infinity,
  );
  if (next === Infinity) {
    db.alarmArmed = false;
    await db.storage.deleteAlarm();
    return;
  }
  await db.storage.setAlarm(Number(next) <= now ? now + ALARM_BACKLOG_MS : Math.max(Number(next), now + ALARM_EVERY_MS));
}

export type EraseRowsRequest = { force: boolean; now: number; requestId: string | null; keys: number; auditRetentionMs: number | null };

/**
 * The account object's part of an erase, in one transaction: refused while it holds money (unless forced);
 * otherwise every row but the audit trail is deleted (whatever tables the schema has), the tombstone is appended
 * with the amounts, and the trail is kept `auditRetentionMs` more (the alarm drops it then).
 */
export function eraseRows(db: Db, req: EraseRowsRequest): EraseResult {
  const { now } = req;
  const a = db.one('SELECT balance FROM account WHERE id = 1');
  const balance = a ? Number(a.balance) : 0;
  const held = a ? db.held(now) : 0;
  if (a && !req.force && (balance !== 0 || held !== 0)) return { ok: false, reason: 'not_empty', balance, held };
  const jobIds = db.sql.exec("SELECT id FROM jobs WHERE id != ''").toArray().map((r) => String(r.id));
  const listed = Number(db.one('SELECT COUNT(*) AS n FROM jobs WHERE deleted = 0')?.n ?? 0);
  const tables = db.sql.exec("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\'").toArray();
  for (const t of tables) if (!KEPT_ON_ERASE.has(String(t.name))) db.sql.exec(`DELETE FROM "${String(t.name)}"`);
  db.hot = undefined;
  db.rates.clear();
  db.lastUsed.clear();
  if (a) {
    const tombstone: AuditEvent = {
      at: now,
      type: ERASED_EVENT,
      request_id: req.requestId,
      key_id: null,
      detail: { forfeited_micro: balance, released_hold_micro: held, keys_deleted: req.keys, jobs_deleted: listed, forced: req.force },
    };
    db.sql.exec('INSERT INTO audit (at, event) VALUES (?, ?)', now, JSON.stringify(tombstone));
    db.sql.exec("INSERT OR REPLACE INTO meta (k, v) VALUES ('erased', ?)", now);
    if (req.auditRetentionMs) noteAuditRetention(db, req.auditRetentionMs);
  }
  return { ok: true, already: !a, balance, held, keys: req.keys, jobIds };
}
