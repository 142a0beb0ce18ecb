// The embedded ledger: SQLite-backed Durable Objects. One object per account holds its money, holds, claims,
// usage and rate-limit windows; one object ("keys") maps key hashes to key records. Every method below runs
// synchronously against SQLite inside the object, so each call is atomic without explicit locking.

import { DurableObject } from 'cloudflare:workers';
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
} from './types';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS keys (hash TEXT PRIMARY KEY, key_id TEXT UNIQUE NOT NULL, account TEXT NOT NULL,
  tier TEXT NOT NULL, rpm INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS account (id INTEGER PRIMARY KEY CHECK (id = 1), name TEXT NOT NULL,
  balance INTEGER NOT NULL, spent INTEGER NOT NULL DEFAULT 0, charges INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS holds (id TEXT PRIMARY KEY, amount INTEGER NOT NULL, expires_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS claims (id TEXT PRIMARY KEY, amount INTEGER NOT NULL, expires_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS usage (seq INTEGER PRIMARY KEY AUTOINCREMENT, claim TEXT NOT NULL,
  amount INTEGER NOT NULL, memo TEXT NOT NULL, at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS rl (key_id TEXT NOT NULL, win INTEGER NOT NULL, n INTEGER NOT NULL,
  PRIMARY KEY (key_id, win));
CREATE TABLE IF NOT EXISTS idem (key TEXT PRIMARY KEY, fp TEXT NOT NULL, response TEXT, expires_at INTEGER NOT NULL);
`;

type Row = Record<string, SqlStorageValue>;

export class LedgerStore extends DurableObject<object> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: object) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(SCHEMA);
  }

  private one(query: string, ...args: SqlStorageValue[]): Row | undefined {
    return this.sql.exec(query, ...args).toArray()[0];
  }

  // ---- key registry (the "keys" object) ----
  findKey(hash: string): KeyRecord | null {
    const r = this.one('SELECT key_id, account, tier, rpm FROM keys WHERE hash = ?', hash);
    return r ? { keyId: String(r.key_id), account: String(r.account), tier: r.tier as KeyRecord['tier'], rpm: Number(r.rpm) } : null;
  }

  putKey(hash: string, rec: KeyRecord): void {
    this.sql.exec('INSERT INTO keys (hash, key_id, account, tier, rpm) VALUES (?, ?, ?, ?, ?)', hash, rec.keyId, rec.account, rec.tier, rec.rpm);
  }

  deleteKey(keyId: string): boolean {
    return this.sql.exec('DELETE FROM keys WHERE key_id = ?', keyId).rowsWritten > 0;
  }

  // ---- account objects ----
  private balance(): number | null {
    const r = this.one('SELECT balance FROM account WHERE id = 1');
    return r ? Number(r.balance) : null;
  }

  private held(now: number): number {
    this.sql.exec('DELETE FROM holds WHERE expires_at <= ?', now);
    return Number(this.one('SELECT COALESCE(SUM(amount), 0) AS h FROM holds')!.h);
  }

  credit(name: string, amount: number, create: boolean): number | null {
    if (create) this.sql.exec('INSERT OR IGNORE INTO account (id, name, balance) VALUES (1, ?, 0)', name);
    if (this.sql.exec('UPDATE account SET balance = balance + ? WHERE id = 1', amount).rowsWritten === 0) return null;
    return this.balance()!;
  }

  view(now: number): AccountView | null {
    const a = this.one('SELECT name, balance, spent, charges FROM account WHERE id = 1');
    if (!a) return null;
    const usage = this.sql
      .exec('SELECT claim, amount, memo, at FROM usage ORDER BY seq DESC LIMIT ?', USAGE_KEEP)
      .toArray()
      .map((u) => ({ claim: String(u.claim), amount_micro: Number(u.amount), memo: String(u.memo), at: Number(u.at) }));
    return {
      account: String(a.name),
      balance_micro: Number(a.balance),
      held_micro: this.held(now),
      spent_micro: Number(a.spent),
      charges: Number(a.charges),
      usage,
    };
  }

  admit(req: AdmitRequest): AdmitResult {
    const { now } = req;
    if (req.idem) {
      this.sql.exec('DELETE FROM idem WHERE expires_at <= ?', now);
      const r = this.one('SELECT fp, response FROM idem WHERE key = ?', req.idem.key);
      if (r) {
        if (r.fp !== req.idem.fingerprint) return { ok: false, reason: 'idem_mismatch' };
        return r.response === null ? { ok: false, reason: 'in_flight' } : { ok: false, reason: 'replay', response: String(r.response) };
      }
    }
    const win = Math.floor(now / 60_000);
    this.sql.exec('DELETE FROM rl WHERE win < ?', win);
    const n = Number(this.one('SELECT n FROM rl WHERE key_id = ? AND win = ?', req.keyId, win)?.n ?? 0);
    if (n >= req.rpm) return { ok: false, reason: 'rate_limited', retryAfterSec: Math.max(1, Math.ceil(((win + 1) * 60_000 - now) / 1000)) };
    this.sql.exec('INSERT INTO rl (key_id, win, n) VALUES (?, ?, 1) ON CONFLICT (key_id, win) DO UPDATE SET n = n + 1', req.keyId, win);
    if (req.hold && req.hold.amount > 0) {
      const existing = this.one('SELECT 1 FROM holds WHERE id = ?', req.hold.id);
      if (!existing) {
        const available = (this.balance() ?? 0) - this.held(now);
        if (req.hold.amount > available) return { ok: false, reason: 'insufficient', availableMicro: Math.max(0, available) };
        this.sql.exec('INSERT INTO holds (id, amount, expires_at) VALUES (?, ?, ?)', req.hold.id, req.hold.amount, now + req.hold.ttlSec * 1000);
      }
    }
    if (req.idem) {
      this.sql.exec('INSERT INTO idem (key, fp, response, expires_at) VALUES (?, ?, NULL, ?)', req.idem.key, req.idem.fingerprint, now + req.idem.pendingTtlSec * 1000);
    }
    return { ok: true };
  }

  settle(req: SettleRequest): SettleResult {
    const { now } = req;
    this.sql.exec('DELETE FROM claims WHERE expires_at <= ?', now);
    const prior = this.one('SELECT amount FROM claims WHERE id = ?', req.claim);
    if (prior) {
      if (req.holdId) this.sql.exec('DELETE FROM holds WHERE id = ?', req.holdId);
      return { ok: true, charged: false, amount: Number(prior.amount), balance: this.balance() ?? 0 };
    }
    if (req.holdId) this.sql.exec('DELETE FROM holds WHERE id = ?', req.holdId);
    const balance = this.balance() ?? 0;
    const available = balance - this.held(now);
    if (req.amount > available) return { ok: false, reason: 'insufficient', availableMicro: Math.max(0, available) };
    if (req.amount > 0) {
      this.sql.exec('UPDATE account SET balance = balance - ?, spent = spent + ?, charges = charges + 1 WHERE id = 1', req.amount, req.amount);
      this.sql.exec('INSERT INTO usage (claim, amount, memo, at) VALUES (?, ?, ?, ?)', req.claim, req.amount, req.memo, now);
      this.sql.exec('DELETE FROM usage WHERE seq <= (SELECT MAX(seq) FROM usage) - ?', USAGE_KEEP);
    }
    this.sql.exec('INSERT INTO claims (id, amount, expires_at) VALUES (?, ?, ?)', req.claim, req.amount, now + CLAIM_TTL_SEC * 1000);
    if (req.idem) {
      this.sql.exec('INSERT OR REPLACE INTO idem (key, fp, response, expires_at) VALUES (?, COALESCE((SELECT fp FROM idem WHERE key = ?), \'\'), ?, ?)', req.idem.key, req.idem.key, req.idem.response, now + req.idem.ttlSec * 1000);
    }
    return { ok: true, charged: true, amount: req.amount, balance: balance - req.amount };
  }

  release(req: ReleaseRequest): void {
    if (req.holdId) this.sql.exec('DELETE FROM holds WHERE id = ?', req.holdId);
    if (req.idemKey) this.sql.exec('DELETE FROM idem WHERE key = ? AND response IS NULL', req.idemKey);
  }
}

/** The Ledger interface over Durable Object stubs (RPC). */
export class DurableLedger implements Ledger {
  constructor(private readonly ns: DurableObjectNamespace<LedgerStore>) {}

  private keys() {
    return this.ns.get(this.ns.idFromName('keys'));
  }

  private acct(account: string) {
    return this.ns.get(this.ns.idFromName(`account:${account}`));
  }

  findKey(hash: string) {
    return this.keys().findKey(hash);
  }

  async issueKey(hash: string, rec: KeyRecord, credits: number) {
    await this.acct(rec.account).credit(rec.account, credits, true);
    await this.keys().putKey(hash, rec);
  }

  revokeKey(keyId: string) {
    return this.keys().deleteKey(keyId);
  }

  credit(account: string, amount: number, create: boolean) {
    return this.acct(account).credit(account, amount, create);
  }

  account(account: string, now: number) {
    return this.acct(account).view(now);
  }

  admit(req: AdmitRequest) {
    return this.acct(req.account).admit(req);
  }

  settle(req: SettleRequest) {
    return this.acct(req.account).settle(req);
  }

  release(req: ReleaseRequest) {
    return this.acct(req.account).release(req);
  }
}
