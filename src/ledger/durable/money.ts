// Where the money moves on an account object: admit (rate limit, balance and budget checks, charge or hold),
// settle, refund, release, operator adjustments and credits. Each runs synchronously in one object: atomic.

import {
  CLAIM_TTL_SEC,
  RELEASED_HOLD_TTL_MS,
  type AdjustRequest,
  type AdjustResult,
  type AdmitRequest,
  type AdmitResult,
  type BudgetCheck,
  type RefundRequest,
  type ReleaseRequest,
  type SettleRequest,
  type SettleResult,
} from '../types';
import { sweep } from './expiry';
import { job, page } from './jobs';
import { rate, take, used } from './limits';
import type { Db } from './state';
import { noteSamples, refused as noteRefusal } from './usage';

/** The refusals the statistics count, by the API error code they become. */
export const REFUSAL_CODES: Partial<Record<string, string>> = { rate_limited: 'rate_limit_exceeded', insufficient: 'insufficient_quota', budget_exceeded: 'budget_exceeded' };

export function admit(db: Db, req: AdmitRequest): AdmitResult {
  const { now } = req;
  sweep(db, now);
  if (req.samples?.length) noteSamples(db, req.samples);
  // The counter of the key's budget, when this charge or hold is priced (a $0 one does not count).
  const b: BudgetCheck | undefined = req.budget && (req.charge?.amount || req.hold?.amount) ? req.budget : undefined;
  // The claim is written first: if it exists, this charge was sent before (its reply was lost) and there is
  // nothing more to do — unless it was voided meanwhile. A refusal below takes it out again.
  const c = req.charge;
  if (c && db.sql.exec('INSERT OR IGNORE INTO claims (id, amount, expires_at, counter) VALUES (?, ?, ?, ?)', c.id, c.amount, now + CLAIM_TTL_SEC * 1000, b?.id ?? null).rowsWritten === 0) {
    return Number(db.one('SELECT void FROM claims WHERE id = ?', c.id)!.void) ? { ok: false, reason: 'void' } : { ok: true };
  }
  const refused = checks(db, req, b);
  if (refused) {
    if (c) db.sql.exec('DELETE FROM claims WHERE id = ?', c.id);
    if (!refused.ok && REFUSAL_CODES[refused.reason]) noteRefusal(db, req, REFUSAL_CODES[refused.reason]!);
    return refused;
  }
  if (b) {
    // Created with the period's first priced request, kept until `until` (0: kept with the key).
    const until = b.until || Number.MAX_SAFE_INTEGER;
    db.sql.exec('INSERT INTO spend (id, amount, until) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET amount = amount + excluded.amount', b.id, c?.amount ?? 0, until);
  }
  if (c) {
    if (c.amount > 0) db.debit(c.amount, 1);
    db.record(c.id, c.amount, c.memo, now);
  }
  used(db, req.keyId, now);
  if (req.hold && req.hold.amount > 0) {
    const expiresAt = now + req.hold.ttlSec * 1000;
    const counter = b?.id ?? null;
    db.sql.exec('INSERT INTO holds (id, amount, expires_at, counter) VALUES (?, ?, ?, ?)', req.hold.id, req.hold.amount, expiresAt, counter);
    db.state().holds.set(req.hold.id, { amount: req.hold.amount, expiresAt, counter });
  }
  if (req.idem) {
    db.sql.exec('INSERT OR REPLACE INTO idem (key, fp, response, expires_at) VALUES (?, ?, NULL, ?)', req.idem.key, req.idem.fingerprint, now + req.idem.pendingTtlSec * 1000);
  }
  if (req.list) return { ok: true, ...page(db, req.list, now) };
  return req.lookup ? { ok: true, job: job(db, req.lookup, now) } : { ok: true };
}

/**
 * The answer before anything is written — a refusal (idempotency, rate limit, balance), or `ok` for a hold sent
 * again — or null when the request may proceed.
 */
function checks(db: Db, req: AdmitRequest, budget?: BudgetCheck): Exclude<AdmitResult, { ok: true }> | { ok: true } | null {
  const { now } = req;
  if (req.hold) {
    const h = db.one('SELECT released FROM holds WHERE id = ?', req.hold.id);
    if (h) return Number(h.released) ? { ok: false, reason: 'void' } : { ok: true };
  }
  if (req.idem) {
    const r = db.one('SELECT fp, response FROM idem WHERE key = ? AND expires_at > ?', req.idem.key, now);
    if (r) {
      if (r.fp !== req.idem.fingerprint) return { ok: false, reason: 'idem_mismatch' };
      return r.response === null ? { ok: false, reason: 'in_flight' } : { ok: false, reason: 'replay', response: String(r.response) };
    }
  }
  const limit = rate(db, req.keyId, now, req.rpm);
  if (!limit.ok) return { ok: false, reason: 'rate_limited', retryAfterSec: Math.max(1, Math.ceil(limit.waitMs / 1000)) };
  const amount = req.charge?.amount ?? req.hold?.amount ?? 0;
  if (amount > 0) {
    const available = (db.balance() ?? 0) - db.held(now);
    if (amount > available) return { ok: false, reason: 'insufficient', availableMicro: Math.max(0, available) };
    if (budget) {
      const spent = Number(db.one('SELECT amount FROM spend WHERE id = ?', budget.id)?.amount ?? 0) + db.held(now, budget.id);
      if (spent + amount > budget.limit) return { ok: false, reason: 'budget_exceeded', remainingMicro: Math.max(0, budget.limit - spent) };
    }
  }
  take(db, req.keyId, limit.tat);
  return null;
}

export function settle(db: Db, req: SettleRequest): SettleResult {
  const { now } = req;
  sweep(db, now);
  const prior = db.one('SELECT amount FROM claims WHERE id = ?', req.claim);
  // The hold's budget counter: its reservation becomes the charge (made under the same counter).
  const counter = req.holdId ? holdCounter(db, req.holdId) : null;
  if (req.holdId) db.dropHold(req.holdId);
  const stored = () => (db.one('SELECT state FROM jobs WHERE key = ?', req.claim)?.state ?? null) as string | null;
  if (prior) return { ok: true, charged: false, amount: Number(prior.amount), balance: db.balance() ?? 0, state: stored() };
  const balance = db.balance() ?? 0;
  const available = balance - db.held(now);
  if (req.amount > available) return { ok: false, reason: 'insufficient', availableMicro: Math.max(0, available) };
  if (req.amount > 0) db.debit(req.amount, 1);
  if (req.amount > 0 || req.record) db.record(req.claim, req.amount, req.memo, now);
  db.bump(counter, req.amount);
  db.sql.exec('INSERT INTO claims (id, amount, expires_at, counter) VALUES (?, ?, ?, ?)', req.claim, req.amount, now + CLAIM_TTL_SEC * 1000, counter);
  if (req.state !== undefined) db.sql.exec('UPDATE jobs SET state = ? WHERE key = ?', req.state, req.claim);
  return { ok: true, charged: true, amount: req.amount, balance: balance - req.amount, state: req.state ?? stored() };
}

/** The budget counter a live (or not yet swept) hold was made under. */
function holdCounter(db: Db, id: string): string | null {
  const h = db.state().holds.get(id);
  if (h) return h.counter;
  const r = db.one('SELECT counter FROM holds WHERE id = ? AND released = 0', id);
  return r?.counter === null || r?.counter === undefined ? null : String(r.counter);
}

export function refund(db: Db, req: RefundRequest): number {
  const c = db.one('SELECT amount, counter FROM claims WHERE id = ?', req.claim);
  if (!c) {
    // The charge never landed (or not yet): void the claim so that it never will.
    db.sql.exec('INSERT INTO claims (id, amount, expires_at, void) VALUES (?, 0, ?, 1)', req.claim, req.now + CLAIM_TTL_SEC * 1000);
    return 0;
  }
  const charged = Number(c.amount);
  if (charged <= req.keep) return charged;
  const back = charged - req.keep;
  db.sql.exec('UPDATE claims SET amount = ?, void = ? WHERE id = ?', req.keep, req.keep === 0 ? 1 : 0, req.claim);
  db.debit(-back, req.keep === 0 ? -1 : 0);
  db.bump(c.counter === null ? null : String(c.counter), -back);
  db.record(req.claim, -back, 'refund', req.now);
  return req.keep;
}

export function release(db: Db, req: ReleaseRequest): void {
  if (req.holdId) {
    // Remembered as released until it would have expired: a late-landing admit of this hold id is refused.
    const ttl = req.now + RELEASED_HOLD_TTL_MS;
    db.sql.exec('INSERT INTO holds (id, amount, expires_at, released) VALUES (?, 0, ?, 1) ON CONFLICT (id) DO UPDATE SET released = 1', req.holdId, ttl);
    db.state().holds.delete(req.holdId);
  }
  if (req.idemKey && req.idemOwner) {
    // The admit that set it stored its expiry as now + pendingTtlSec: that pair names it.
    db.sql.exec('DELETE FROM idem WHERE key = ? AND response IS NULL AND expires_at = ?', req.idemKey, req.idemOwner.at + req.idemOwner.ttlSec * 1000);
  } else if (req.idemKey) db.sql.exec('DELETE FROM idem WHERE key = ? AND response IS NULL', req.idemKey);
}

export function adjust(db: Db, req: AdjustRequest): AdjustResult {
  if (!db.one('SELECT 1 FROM account WHERE id = 1')) return { ok: false, reason: 'no_account' };
  const available = (db.balance() ?? 0) - db.held(req.now);
  if (available + req.amount < 0) return { ok: false, reason: 'insufficient', availableMicro: Math.max(0, available) };
  // A credit is not spending: only the balance moves; the usage record keeps the reason.
  db.sql.exec('UPDATE account SET balance = balance + ? WHERE id = 1', req.amount);
  const st = db.state();
  if (st.balance !== null) st.balance += req.amount;
  db.record(req.id, -req.amount, `adjustment: ${req.reason}`, req.now);
  return { ok: true, balance: db.balance() ?? 0 };
}

export function credit(db: Db, name: string, amount: number, create: boolean): number | null {
  if (create) db.sql.exec('INSERT OR IGNORE INTO account (id, name, balance) VALUES (1, ?, 0)', name);
  const r = db.one('UPDATE account SET balance = balance + ? WHERE id = 1 RETURNING balance', amount);
  if (!r) return null;
  db.state().balance = Number(r.balance);
  return Number(r.balance);
}
