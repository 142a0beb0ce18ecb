// The key directory (the "keys" object): key records, the account list, each account's PHI screening override,
// and the residency anchor (where this deployment's ledger lives).

import type { KeyBudget, KeyInfo, KeyPatch, KeyRecord, PhiScanMode } from '../types';
import type { Db, Row } from './state';

/** A key row's budget (both columns set), or null. */
function budgetOf(r: Row): KeyBudget | null {
  const p = r.budget_period;
  return r.budget_micro === null || r.budget_micro === undefined || (p !== 'day' && p !== 'month' && p !== 'total') ? null : { micro: Number(r.budget_micro), period: p };
}

export function findKey(db: Db, hash: string): KeyRecord | null {
  const r = db.one(
    'SELECT k.key_id, k.account, k.tier, k.rpm, k.expires_at, k.budget_micro, k.budget_period, a.phi_scan FROM keys k LEFT JOIN accounts a ON a.name = k.account WHERE k.hash = ? AND k.revoked_at IS NULL',
    hash,
  );
  if (!r) return null;
  const rec: KeyRecord = { keyId: String(r.key_id), account: String(r.account), tier: r.tier as KeyRecord['tier'], rpm: Number(r.rpm), expiresAt: r.expires_at === null ? null : Number(r.expires_at) };
  if (r.phi_scan === 'off' || r.phi_scan === 'block') rec.phiScan = r.phi_scan;
  const budget = budgetOf(r);
  if (budget) rec.budget = budget;
  return rec;
}

/** The account's PHI screening override (null: the gateway's PHI_SCAN); false when the account is unknown. */
export function setPhiScan(db: Db, account: string, mode: PhiScanMode | null): boolean {
  return db.sql.exec('UPDATE accounts SET phi_scan = ? WHERE name = ?', mode, account).rowsWritten > 0;
}

/**
 * Residency anchor (the unrestricted namespace's directory): the jurisdiction this deployment's ledger lives in,
 * recorded by the first gateway that used it. Answers what is recorded (recording `label` when nothing is).
 */
export function residency(db: Db, label: string, now: number): string {
  const r = db.one('SELECT jurisdiction FROM residency WHERE id = 1');
  if (r) return String(r.jurisdiction);
  db.sql.exec('INSERT INTO residency (id, jurisdiction, at) VALUES (1, ?, ?)', label, now);
  return label;
}

/** Operator migration step: the anchor names `to` from now on (only when it named `from`). */
export function moveResidency(db: Db, from: string, to: string, now: number): boolean {
  return db.sql.exec('UPDATE residency SET jurisdiction = ?, at = ? WHERE id = 1 AND jurisdiction = ?', to, now, from).rowsWritten > 0;
}

export function putKey(db: Db, hash: string, rec: KeyRecord, label: string | null, createdAt: number): void {
  db.sql.exec(
    'INSERT INTO keys (hash, key_id, account, tier, rpm, label, created_at, expires_at, budget_micro, budget_period) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    hash, rec.keyId, rec.account, rec.tier, rec.rpm, label, createdAt, rec.expiresAt ?? null, rec.budget?.micro ?? null, rec.budget?.period ?? null,
  );
  noteAccount(db, rec.account);
}

/** A PATCH of a live key (a revoked one stays as it was). */
export function patchKey(db: Db, keyId: string, patch: KeyPatch): { account: string; revoked: boolean } | null {
  const k = db.one('SELECT account, revoked_at FROM keys WHERE key_id = ?', keyId);
  if (!k) return null;
  const account = String(k.account);
  if (k.revoked_at !== null) return { account, revoked: true };
  const sets: string[] = [];
  const args: SqlStorageValue[] = [];
  const set = (column: string, value: SqlStorageValue) => (sets.push(`${column} = ?`), args.push(value));
  if (patch.label !== undefined) set('label', patch.label);
  if (patch.expiresAt !== undefined) set('expires_at', patch.expiresAt);
  if (patch.rpm !== undefined) set('rpm', patch.rpm);
  if (patch.budget !== undefined) {
    set('budget_micro', patch.budget?.micro ?? null);
    set('budget_period', patch.budget?.period ?? null);
  }
  if (sets.length) db.sql.exec(`UPDATE keys SET ${sets.join(', ')} WHERE key_id = ?`, ...args, keyId);
  return { account, revoked: false };
}

export function noteAccount(db: Db, name: string): void {
  db.sql.exec('INSERT OR IGNORE INTO accounts (name) VALUES (?)', name);
}

export function revoke(db: Db, keyId: string, now: number): string | null {
  const k = db.one('SELECT account FROM keys WHERE key_id = ?', keyId);
  if (!k) return null;
  db.sql.exec('UPDATE keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL', Math.floor(now / 1000), keyId);
  return String(k.account);
}

export function keysOf(db: Db, account: string): Omit<KeyInfo, 'lastUsedAt' | 'budgetUsed'>[] {
  return db.sql
    .exec('SELECT key_id, label, tier, rpm, created_at, expires_at, revoked_at, budget_micro, budget_period FROM keys WHERE account = ? ORDER BY created_at, key_id', account)
    .toArray()
    .map((k) => ({
      keyId: String(k.key_id),
      label: k.label === null ? null : String(k.label),
      tier: k.tier as KeyInfo['tier'],
      rpm: Number(k.rpm),
      createdAt: Number(k.created_at),
      expiresAt: k.expires_at === null ? null : Number(k.expires_at),
      revokedAt: k.revoked_at === null ? null : Number(k.revoked_at),
      budget: budgetOf(k),
    }));
}

export function accountNames(db: Db, after: string | null, limit: number): { accounts: string[]; hasMore: boolean } {
  const rows = db.sql.exec('SELECT name FROM accounts WHERE name > ? ORDER BY name LIMIT ?', after ?? '', limit + 1).toArray();
  return { accounts: rows.slice(0, limit).map((r) => String(r.name)), hasMore: rows.length > limit };
}

/** The key directory's part of an erase: the account's keys (revoked ones too) and its entry in the account list. */
export function dropAccount(db: Db, account: string): number {
  const gone = db.sql.exec('DELETE FROM keys WHERE account = ? RETURNING key_id', account).toArray().length;
  db.sql.exec('DELETE FROM accounts WHERE name = ?', account);
  return gone;
}
