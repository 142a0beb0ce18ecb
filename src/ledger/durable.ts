// The embedded ledger: SQLite-backed Durable Objects. One object per account holds its money, holds, claims,
// usage, rate-limit state and idempotency records; one object ("keys") maps key hashes to key records. Every
// method below runs synchronously against SQLite inside the object, so each call is atomic without locking.
// Expiring rows are found through an index on their expiry time and swept a bounded batch at a time, so the cost
// of a call does not grow with an account's history.

import { DurableObject } from 'cloudflare:workers';
import { budgetCheck } from './budget';
import {
  CLAIM_TTL_SEC,
  gcra,
  JOB_TTL_SEC,
  RELEASED_HOLD_TTL_MS,
  USAGE_KEEP,
  USAGE_RETENTION_MS,
  type UsageRecord,
  type AuditEvent,
  type AccountView,
  type AdmitRequest,
  type AdmitResult,
  type DiscardRequest,
  type WebhookConfig,
  type JobPage,
  type JobRecord,
  type KeyRecord,
  type KeyInfo,
  type AdjustRequest,
  type AdjustResult,
  type Ledger,
  type RefundRequest,
  type ReleaseRequest,
  type RememberRequest,
  type SettleRequest,
  type SettleResult,
  type PhiScanMode,
  ERASED_EVENT,
  type EraseRequest,
  type EraseResult,
  type Activity,
  type BudgetCheck,
  type CounterView,
  type KeyBudget,
  type KeyPatch,
  type Sample,
} from './types';

/**
 * Objects created by the first version have `rl` (fixed windows) and no `released` / `void` columns: bring them
 * up to this schema before it is used. Each step runs once per object (tracked in `meta`).
 */
const MIGRATIONS: string[] = [
  `ALTER TABLE holds ADD COLUMN released INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE claims ADD COLUMN void INTEGER NOT NULL DEFAULT 0;
   DROP TABLE IF EXISTS rl;`,
  // Operator API: key labels, creation, expiry and revocation (kept, not deleted); key last use per account.
  `ALTER TABLE keys ADD COLUMN label TEXT;
   ALTER TABLE keys ADD COLUMN created_at INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE keys ADD COLUMN expires_at INTEGER;
   ALTER TABLE keys ADD COLUMN revoked_at INTEGER;`,
  `ALTER TABLE jobs ADD COLUMN meta TEXT;`,
  // Regulated posture: a per-account PHI screening override (key directory), and where the directory lives.
  `ALTER TABLE accounts ADD COLUMN phi_scan TEXT;`,
  // Per-key budgets (key directory); the counter a hold or a charge counts toward (account objects).
  `ALTER TABLE keys ADD COLUMN budget_micro INTEGER;
   ALTER TABLE keys ADD COLUMN budget_period TEXT;
   ALTER TABLE holds ADD COLUMN counter TEXT;
   ALTER TABLE claims ADD COLUMN counter TEXT;`,
];

const SCHEMA = `
CREATE TABLE IF NOT EXISTS keys (hash TEXT PRIMARY KEY, key_id TEXT UNIQUE NOT NULL, account TEXT NOT NULL,
  tier TEXT NOT NULL, rpm INTEGER NOT NULL, label TEXT, created_at INTEGER NOT NULL DEFAULT 0, expires_at INTEGER,
  revoked_at INTEGER, budget_micro INTEGER, budget_period TEXT);
CREATE INDEX IF NOT EXISTS keys_account ON keys (account, created_at);
CREATE TABLE IF NOT EXISTS accounts (name TEXT PRIMARY KEY, phi_scan TEXT);
CREATE TABLE IF NOT EXISTS residency (id INTEGER PRIMARY KEY CHECK (id = 1), jurisdiction TEXT NOT NULL, at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS audit (seq INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, event TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_at ON audit (at);
CREATE TABLE IF NOT EXISTS key_used (key_id TEXT PRIMARY KEY, at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS account (id INTEGER PRIMARY KEY CHECK (id = 1), name TEXT NOT NULL,
  balance INTEGER NOT NULL, spent INTEGER NOT NULL DEFAULT 0, charges INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS holds (id TEXT PRIMARY KEY, amount INTEGER NOT NULL, expires_at INTEGER NOT NULL,
  released INTEGER NOT NULL DEFAULT 0, counter TEXT);
CREATE INDEX IF NOT EXISTS holds_expiry ON holds (expires_at);
CREATE INDEX IF NOT EXISTS holds_active ON holds (released, expires_at);
CREATE TABLE IF NOT EXISTS claims (id TEXT PRIMARY KEY, amount INTEGER NOT NULL, expires_at INTEGER NOT NULL,
  void INTEGER NOT NULL DEFAULT 0, counter TEXT);
CREATE INDEX IF NOT EXISTS claims_expiry ON claims (expires_at);
CREATE TABLE IF NOT EXISTS usage (seq INTEGER PRIMARY KEY AUTOINCREMENT, claim TEXT NOT NULL,
  amount INTEGER NOT NULL, memo TEXT NOT NULL, at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS usage_at ON usage (at);
CREATE TABLE IF NOT EXISTS idem (key TEXT PRIMARY KEY, fp TEXT NOT NULL, response TEXT, expires_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS idem_expiry ON idem (expires_at);
CREATE TABLE IF NOT EXISTS jobs (key TEXT PRIMARY KEY, id TEXT NOT NULL, created_at INTEGER NOT NULL, state TEXT,
  expires_at INTEGER NOT NULL, remixed_from TEXT, deleted INTEGER NOT NULL DEFAULT 0, meta TEXT);
CREATE INDEX IF NOT EXISTS jobs_created ON jobs (created_at, key);
CREATE INDEX IF NOT EXISTS jobs_expiry ON jobs (expires_at);
CREATE TABLE IF NOT EXISTS webhook (id INTEGER PRIMARY KEY CHECK (id = 1), url TEXT NOT NULL, nonce TEXT NOT NULL,
  created_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS spend (id TEXT PRIMARY KEY, amount INTEGER NOT NULL, until INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS spend_until ON spend (until);
CREATE TABLE IF NOT EXISTS refusals (minute INTEGER NOT NULL, key_id TEXT NOT NULL, model TEXT NOT NULL, code TEXT NOT NULL,
  n INTEGER NOT NULL, PRIMARY KEY (minute, key_id, model, code));
CREATE TABLE IF NOT EXISTS samples (claim TEXT PRIMARY KEY, at INTEGER NOT NULL, ms INTEGER NOT NULL, code TEXT);
CREATE INDEX IF NOT EXISTS samples_at ON samples (at);
`;

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

type Row = Record<string, SqlStorageValue>;

const jobOf = (j: Row): JobRecord => ({
  key: String(j.key),
  id: String(j.id),
  createdAt: Number(j.created_at),
  state: j.state === null ? null : String(j.state),
  from: j.remixed_from === null || j.remixed_from === undefined ? null : String(j.remixed_from),
  meta: j.meta === null || j.meta === undefined ? null : String(j.meta),
});

/** A key row's budget (both columns set), or null. */
function budgetOf(r: Row): KeyBudget | null {
  const p = r.budget_period;
  return r.budget_micro === null || r.budget_micro === undefined || (p !== 'day' && p !== 'month' && p !== 'total') ? null : { micro: Number(r.budget_micro), period: p };
}

/** The refusals the statistics count, by the API error code they become. */
export const REFUSAL_CODES: Partial<Record<string, string>> = { rate_limited: 'rate_limit_exceeded', insufficient: 'insufficient_quota', budget_exceeded: 'budget_exceeded' };

export class LedgerStore extends DurableObject<object> {
  private readonly sql: SqlStorage;
  private nextSweep = 0;
  /**
   * Hot state, kept in memory and written through to SQLite (one object runs one request at a time, so memory and
   * storage never disagree): the balance and the live holds, loaded on first use. Rate-limit state lives only here:
   * it is per key and short-lived, and an object that restarts simply starts its keys' bursts afresh.
   */
  private hot?: { balance: number | null; holds: Map<string, { amount: number; expiresAt: number; counter: string | null }> };
  private readonly rates = new Map<string, number>();
  private usageWrites = 0;

  constructor(ctx: DurableObjectState, env: object) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.migrate();
    this.sql.exec(SCHEMA);
  }

  private migrate(): void {
    this.sql.exec('CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL)');
    const fresh = !this.one("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'holds'");
    const version = fresh ? MIGRATIONS.length : Number(this.one("SELECT v FROM meta WHERE k = 'schema'")?.v ?? 0);
    for (let v = version; v < MIGRATIONS.length; v++) this.sql.exec(MIGRATIONS[v]!);
    this.sql.exec("INSERT OR REPLACE INTO meta (k, v) VALUES ('schema', ?)", MIGRATIONS.length);
  }

  private one(query: string, ...args: SqlStorageValue[]): Row | undefined {
    return this.sql.exec(query, ...args).toArray()[0];
  }

  // ---- key registry (the "keys" object) ----
  findKey(hash: string): KeyRecord | null {
    const r = this.one(
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
  setPhiScan(account: string, mode: PhiScanMode | null): boolean {
    return this.sql.exec('UPDATE accounts SET phi_scan = ? WHERE name = ?', mode, account).rowsWritten > 0;
  }

  /**
   * Residency anchor (the unrestricted namespace's directory): the jurisdiction this deployment's ledger lives in,
   * recorded by the first gateway that used it. Answers what is recorded (recording `label` when nothing is).
   */
  residency(label: string, now: number): string {
    const r = this.one('SELECT jurisdiction FROM residency WHERE id = 1');
    if (r) return String(r.jurisdiction);
    this.sql.exec('INSERT INTO residency (id, jurisdiction, at) VALUES (1, ?, ?)', label, now);
    return label;
  }

  /** Operator migration step: the anchor names `to` from now on (only when it named `from`). */
  moveResidency(from: string, to: string, now: number): boolean {
    return this.sql.exec('UPDATE residency SET jurisdiction = ?, at = ? WHERE id = 1 AND jurisdiction = ?', to, now, from).rowsWritten > 0;
  }

  /** Where the runtime says this object lives (null: unrestricted, or a runtime that does not say). */
  where(): string | null {
    return this.ctx.id.jurisdiction ?? null;
  }

  putKey(hash: string, rec: KeyRecord, label: string | null, createdAt: number): void {
    this.sql.exec(
      'INSERT INTO keys (hash, key_id, account, tier, rpm, label, created_at, expires_at, budget_micro, budget_period) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      hash, rec.keyId, rec.account, rec.tier, rec.rpm, label, createdAt, rec.expiresAt ?? null, rec.budget?.micro ?? null, rec.budget?.period ?? null,
    );
    this.noteAccount(rec.account);
  }

  /** A PATCH of a live key (a revoked one stays as it was). */
  patchKey(keyId: string, patch: KeyPatch): { account: string; revoked: boolean } | null {
    const k = this.one('SELECT account, revoked_at FROM keys WHERE key_id = ?', keyId);
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
    if (sets.length) this.sql.exec(`UPDATE keys SET ${sets.join(', ')} WHERE key_id = ?`, ...args, keyId);
    return { account, revoked: false };
  }

  noteAccount(name: string): void {
    this.sql.exec('INSERT OR IGNORE INTO accounts (name) VALUES (?)', name);
  }

  revoke(keyId: string, now: number): string | null {
    const k = this.one('SELECT account FROM keys WHERE key_id = ?', keyId);
    if (!k) return null;
    this.sql.exec('UPDATE keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL', Math.floor(now / 1000), keyId);
    return String(k.account);
  }

  appendAudit(events: AuditEvent[], retentionMs: number): void {
    for (const e of events) this.sql.exec('INSERT INTO audit (at, event) VALUES (?, ?)', e.at, JSON.stringify(e));
    if (events.length) this.sql.exec('DELETE FROM audit WHERE at < ?', events[0]!.at - retentionMs);
    this.noteAuditRetention(retentionMs);
  }

  auditBetween(from: number, to: number, limit: number): AuditEvent[] {
    return this.sql
      .exec('SELECT event FROM audit WHERE at >= ? AND at <= ? ORDER BY at, seq LIMIT ?', from, to, limit)
      .toArray()
      .map((r) => JSON.parse(String(r.event)) as AuditEvent);
  }

  keysOf(account: string): Omit<KeyInfo, 'lastUsedAt' | 'budgetUsed'>[] {
    return this.sql
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

  accountNames(after: string | null, limit: number): { accounts: string[]; hasMore: boolean } {
    const rows = this.sql.exec('SELECT name FROM accounts WHERE name > ? ORDER BY name LIMIT ?', after ?? '', limit + 1).toArray();
    return { accounts: rows.slice(0, limit).map((r) => String(r.name)), hasMore: rows.length > limit };
  }

  /** When each of this account's keys was last used (unix seconds). */
  usedAt(): Record<string, number> {
    return Object.fromEntries(this.sql.exec('SELECT key_id, at FROM key_used').toArray().map((r) => [String(r.key_id), Number(r.at)]));
  }

  /** Key last use and the named spend counters, in one call (the operator's key list). */
  keyState(counters: string[], now: number): { used: Record<string, number>; counters: Record<string, CounterView> } {
    const out: Record<string, CounterView> = {};
    for (const id of counters) out[id] = this.counterView(id, now);
    return { used: this.usedAt(), counters: out };
  }

  // ---- per-key budgets: spend counters (charged, net of refunds) and the live holds made under them ----
  private counterView(id: string, now: number): CounterView {
    return { charged: Number(this.one('SELECT amount FROM spend WHERE id = ?', id)?.amount ?? 0), held: this.held(now, id) };
  }

  /** Adds to an existing counter (a refund, or a hold settling into its charge, after the counter expired moves nothing). */
  private bump(id: string | null | undefined, amount: number): void {
    if (id && amount !== 0) this.sql.exec('UPDATE spend SET amount = amount + ? WHERE id = ?', amount, id);
  }

  // ---- statistics: refusals answered here, and outcome samples piggybacked on later admits ----
  private refused(req: AdmitRequest, code: string): void {
    if (!req.charge && !req.hold) return; // generations only (reads have their own bucket and no price)
    this.sql.exec(
      'INSERT INTO refusals (minute, key_id, model, code, n) VALUES (?, ?, ?, ?, 1) ON CONFLICT (minute, key_id, model, code) DO UPDATE SET n = n + 1',
      Math.floor(req.now / 60_000), req.keyId, req.model ?? '', code,
    );
  }

  /** One multi-row INSERT per 16 samples (a batch rides on one admit); one per claim, so a resent admit adds none. */
  private noteSamples(samples: Sample[]): void {
    for (let i = 0; i < samples.length; i += 16) {
      const batch = samples.slice(i, i + 16);
      this.sql.exec(`INSERT OR IGNORE INTO samples (claim, at, ms, code) VALUES ${batch.map(() => '(?, ?, ?, ?)').join(', ')}`, ...batch.flatMap((x) => [x.claim, x.at, x.ms, x.code]));
    }
  }

  activity(from: number, to: number): Activity {
    const refusals = this.sql
      .exec('SELECT minute, key_id, model, code, n FROM refusals WHERE minute >= ? AND minute <= ? ORDER BY minute', Math.floor(from / 60_000), Math.floor(to / 60_000))
      .toArray()
      .map((r) => ({ minute: Number(r.minute), keyId: String(r.key_id), model: r.model ? String(r.model) : null, code: String(r.code), n: Number(r.n) }));
    const samples = this.sql
      .exec('SELECT claim, at, ms, code FROM samples WHERE at >= ? AND at <= ? ORDER BY at, claim LIMIT 100000', from, to)
      .toArray()
      .map((r) => ({ claim: String(r.claim), at: Number(r.at), ms: Number(r.ms), code: r.code === null ? null : String(r.code) }));
    return { refusals, samples };
  }

  // ---- account objects ----
  private state() {
    if (!this.hot) {
      const a = this.one('SELECT balance FROM account WHERE id = 1');
      const holds = new Map<string, { amount: number; expiresAt: number; counter: string | null }>();
      for (const h of this.sql.exec('SELECT id, amount, expires_at, counter FROM holds WHERE released = 0').toArray()) {
        holds.set(String(h.id), { amount: Number(h.amount), expiresAt: Number(h.expires_at), counter: h.counter === null ? null : String(h.counter) });
      }
      this.hot = { balance: a ? Number(a.balance) : null, holds };
    }
    return this.hot;
  }

  private balance(): number | null {
    return this.state().balance;
  }

  /** Moves the balance (storage and memory together); `spent`/`charges` follow what was charged or refunded. */
  private debit(amount: number, charges: number): void {
    this.sql.exec('UPDATE account SET balance = balance - ?, spent = spent + ?, charges = charges + ? WHERE id = 1', amount, amount, charges);
    const st = this.state();
    if (st.balance !== null) st.balance -= amount;
  }

  /** Drops a bounded batch of expired rows from each table (indexed by expiry), at most once a minute. */
  private sweep(now: number): void {
    if (now < this.nextSweep) return;
    this.nextSweep = now + SWEEP_EVERY_MS;
    this.sql.exec('DELETE FROM jobs WHERE key IN (SELECT key FROM jobs WHERE expires_at <= ? LIMIT ?)', now, SWEEP);
    this.sql.exec('DELETE FROM holds WHERE id IN (SELECT id FROM holds WHERE expires_at <= ? LIMIT ?)', now, SWEEP);
    this.sql.exec('DELETE FROM claims WHERE id IN (SELECT id FROM claims WHERE expires_at <= ? LIMIT ?)', now, SWEEP);
    this.sql.exec('DELETE FROM idem WHERE key IN (SELECT key FROM idem WHERE expires_at <= ? LIMIT ?)', now, SWEEP);
    this.sql.exec('DELETE FROM spend WHERE id IN (SELECT id FROM spend WHERE until > 0 AND until <= ? LIMIT ?)', now, SWEEP);
    for (const [key, tat] of this.rates) if (tat <= now) this.rates.delete(key);
    this.armExpiry();
  }

  /** Sum of the live holds (from memory; expired ones dropped as they are met); with `counter`, of those made under it. */
  private held(now: number, counter?: string): number {
    let total = 0;
    for (const [id, h] of this.state().holds) {
      if (h.expiresAt <= now) this.state().holds.delete(id);
      else if (counter === undefined || h.counter === counter) total += h.amount;
    }
    return total;
  }

  private dropHold(id: string): void {
    this.sql.exec('UPDATE holds SET released = 1 WHERE id = ?', id);
    this.state().holds.delete(id);
  }

  credit(name: string, amount: number, create: boolean): number | null {
    if (create) this.sql.exec('INSERT OR IGNORE INTO account (id, name, balance) VALUES (1, ?, 0)', name);
    const r = this.one('UPDATE account SET balance = balance + ? WHERE id = 1 RETURNING balance', amount);
    if (!r) return null;
    this.state().balance = Number(r.balance);
    return Number(r.balance);
  }

  view(now: number, counter?: string, name?: string): AccountView | null {
    const row = this.one('SELECT name, balance, spent, charges FROM account WHERE id = 1');
    const last = this.one('SELECT MAX(at) AS at FROM key_used')?.at;
    // No balance, but keys were used here (the shared test key's free tier): an account of $0.
    if (!row && (last === null || last === undefined || name === undefined)) return null;
    const a = row ?? { name: name!, balance: 0, spent: 0, charges: 0 };
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
      last_used_at: last === null || last === undefined ? null : Number(last),
      ...(counter !== undefined && { counter: this.counterView(counter, now) }),
    };
  }

  private lastUsed = new Map<string, number>();

  /** A key's last use, written at most once a minute per key (in the admit's own transaction). */
  private used(keyId: string, now: number): void {
    if (keyId.startsWith('system')) return;
    const id = keyId.replace(/:read$/, '');
    if (now - (this.lastUsed.get(id) ?? 0) < 60_000) return;
    this.lastUsed.set(id, now);
    this.sql.exec('INSERT OR REPLACE INTO key_used (key_id, at) VALUES (?, ?)', id, Math.floor(now / 1000));
  }

  usageBetween(from: number, to: number, limit: number): UsageRecord[] {
    return this.sql
      .exec('SELECT claim, amount, memo, at FROM usage WHERE at >= ? AND at <= ? ORDER BY at, seq LIMIT ?', from, to, limit)
      .toArray()
      .map((u) => ({ claim: String(u.claim), amount_micro: Number(u.amount), memo: String(u.memo), at: Number(u.at) }));
  }

  adjust(req: AdjustRequest): AdjustResult {
    if (!this.one('SELECT 1 FROM account WHERE id = 1')) return { ok: false, reason: 'no_account' };
    const available = (this.balance() ?? 0) - this.held(req.now);
    if (available + req.amount < 0) return { ok: false, reason: 'insufficient', availableMicro: Math.max(0, available) };
    // A credit is not spending: only the balance moves; the usage record keeps the reason.
    this.sql.exec('UPDATE account SET balance = balance + ? WHERE id = 1', req.amount);
    const st = this.state();
    if (st.balance !== null) st.balance += req.amount;
    this.record(req.id, -req.amount, `adjustment: ${req.reason}`, req.now);
    return { ok: true, balance: this.balance() ?? 0 };
  }

  private record(claim: string, amount: number, memo: string, now: number): void {
    this.sql.exec('INSERT INTO usage (claim, amount, memo, at) VALUES (?, ?, ?, ?)', claim, amount, memo, now);
    // Kept for USAGE_RETENTION_MS (the usage API's horizon); trimmed now and then, not on every write.
    if (++this.usageWrites % 64 === 0) {
      this.sql.exec('DELETE FROM usage WHERE at < ?', now - USAGE_RETENTION_MS);
      this.sql.exec('DELETE FROM samples WHERE at < ?', now - USAGE_RETENTION_MS);
    }
  }

  private job(key: string, now: number): JobRecord | null {
    const j = this.one('SELECT key, id, created_at, state, remixed_from, meta FROM jobs WHERE key = ? AND expires_at > ?', key, now);
    return j ? jobOf(j) : null;
  }

  /** A page of live, undeleted jobs in (created_at, key) order after a position, and whether more follow. */
  private page(p: JobPage, now: number): { jobs: JobRecord[]; hasMore: boolean } {
    const desc = p.order === 'desc';
    const [cmp, dir] = desc ? ['<', 'DESC'] : ['>', 'ASC'];
    const where = p.after ? `AND (created_at ${cmp} ? OR (created_at = ? AND key ${cmp} ?))` : '';
    const args: SqlStorageValue[] = p.after ? [p.after.createdAt, p.after.createdAt, p.after.key] : [];
    const rows = this.sql
      .exec(
        `SELECT key, id, created_at, state, remixed_from FROM jobs WHERE deleted = 0 AND expires_at > ? ${where} ORDER BY created_at ${dir}, key ${dir} LIMIT ?`,
        now,
        ...args,
        p.limit + 1,
      )
      .toArray();
    return { jobs: rows.slice(0, p.limit).map(jobOf), hasMore: rows.length > p.limit };
  }

  admit(req: AdmitRequest): AdmitResult {
    const { now } = req;
    this.sweep(now);
    if (req.samples?.length) this.noteSamples(req.samples);
    // The counter of the key's budget, when this charge or hold is priced (a $0 one does not count).
    const b: BudgetCheck | undefined = req.budget && (req.charge?.amount || req.hold?.amount) ? req.budget : undefined;
    // The claim is written first: if it exists, this charge was sent before (its reply was lost) and there is
    // nothing more to do — unless it was voided meanwhile. A refusal below takes it out again.
    const c = req.charge;
    if (c && this.sql.exec('INSERT OR IGNORE INTO claims (id, amount, expires_at, counter) VALUES (?, ?, ?, ?)', c.id, c.amount, now + CLAIM_TTL_SEC * 1000, b?.id ?? null).rowsWritten === 0) {
      return Number(this.one('SELECT void FROM claims WHERE id = ?', c.id)!.void) ? { ok: false, reason: 'void' } : { ok: true };
    }
    const refused = this.checks(req, b);
    if (refused) {
      if (c) this.sql.exec('DELETE FROM claims WHERE id = ?', c.id);
      if (!refused.ok && REFUSAL_CODES[refused.reason]) this.refused(req, REFUSAL_CODES[refused.reason]!);
      return refused;
    }
    if (b) {
      // Created with the period's first priced request, kept until `until` (0: kept with the key).
      const until = b.until || Number.MAX_SAFE_INTEGER;
      this.sql.exec('INSERT INTO spend (id, amount, until) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET amount = amount + excluded.amount', b.id, c?.amount ?? 0, until);
    }
    if (c) {
      if (c.amount > 0) this.debit(c.amount, 1);
      this.record(c.id, c.amount, c.memo, now);
    }
    this.used(req.keyId, now);
    if (req.hold && req.hold.amount > 0) {
      const expiresAt = now + req.hold.ttlSec * 1000;
      const counter = b?.id ?? null;
      this.sql.exec('INSERT INTO holds (id, amount, expires_at, counter) VALUES (?, ?, ?, ?)', req.hold.id, req.hold.amount, expiresAt, counter);
      this.state().holds.set(req.hold.id, { amount: req.hold.amount, expiresAt, counter });
    }
    if (req.idem) {
      this.sql.exec('INSERT OR REPLACE INTO idem (key, fp, response, expires_at) VALUES (?, ?, NULL, ?)', req.idem.key, req.idem.fingerprint, now + req.idem.pendingTtlSec * 1000);
    }
    if (req.list) return { ok: true, ...this.page(req.list, now) };
    return req.lookup ? { ok: true, job: this.job(req.lookup, now) } : { ok: true };
  }

  /**
   * The answer before anything is written — a refusal (idempotency, rate limit, balance), or `ok` for a hold sent
   * again — or null when the request may proceed.
   */
  private checks(req: AdmitRequest, budget?: BudgetCheck): Exclude<AdmitResult, { ok: true }> | { ok: true } | null {
    const { now } = req;
    if (req.hold) {
      const h = this.one('SELECT released FROM holds WHERE id = ?', req.hold.id);
      if (h) return Number(h.released) ? { ok: false, reason: 'void' } : { ok: true };
    }
    if (req.idem) {
      const r = this.one('SELECT fp, response FROM idem WHERE key = ? AND expires_at > ?', req.idem.key, now);
      if (r) {
        if (r.fp !== req.idem.fingerprint) return { ok: false, reason: 'idem_mismatch' };
        return r.response === null ? { ok: false, reason: 'in_flight' } : { ok: false, reason: 'replay', response: String(r.response) };
      }
    }
    const rate = gcra(this.rates.get(req.keyId) ?? null, now, req.rpm);
    if (!rate.ok) return { ok: false, reason: 'rate_limited', retryAfterSec: Math.max(1, Math.ceil(rate.waitMs / 1000)) };
    const amount = req.charge?.amount ?? req.hold?.amount ?? 0;
    if (amount > 0) {
      const available = (this.balance() ?? 0) - this.held(now);
      if (amount > available) return { ok: false, reason: 'insufficient', availableMicro: Math.max(0, available) };
      if (budget) {
        const used = Number(this.one('SELECT amount FROM spend WHERE id = ?', budget.id)?.amount ?? 0) + this.held(now, budget.id);
        if (used + amount > budget.limit) return { ok: false, reason: 'budget_exceeded', remainingMicro: Math.max(0, budget.limit - used) };
      }
    }
    this.rates.set(req.keyId, rate.tat);
    return null;
  }

  settle(req: SettleRequest): SettleResult {
    const { now } = req;
    this.sweep(now);
    const prior = this.one('SELECT amount FROM claims WHERE id = ?', req.claim);
    // The hold's budget counter: its reservation becomes the charge (made under the same counter).
    const counter = req.holdId ? this.holdCounter(req.holdId) : null;
    if (req.holdId) this.dropHold(req.holdId);
    const stored = () => (this.one('SELECT state FROM jobs WHERE key = ?', req.claim)?.state ?? null) as string | null;
    if (prior) return { ok: true, charged: false, amount: Number(prior.amount), balance: this.balance() ?? 0, state: stored() };
    const balance = this.balance() ?? 0;
    const available = balance - this.held(now);
    if (req.amount > available) return { ok: false, reason: 'insufficient', availableMicro: Math.max(0, available) };
    if (req.amount > 0) this.debit(req.amount, 1);
    if (req.amount > 0 || req.record) this.record(req.claim, req.amount, req.memo, now);
    this.bump(counter, req.amount);
    this.sql.exec('INSERT INTO claims (id, amount, expires_at, counter) VALUES (?, ?, ?, ?)', req.claim, req.amount, now + CLAIM_TTL_SEC * 1000, counter);
    if (req.state !== undefined) this.sql.exec('UPDATE jobs SET state = ? WHERE key = ?', req.state, req.claim);
    return { ok: true, charged: true, amount: req.amount, balance: balance - req.amount, state: req.state ?? stored() };
  }

  /** The budget counter a live (or not yet swept) hold was made under. */
  private holdCounter(id: string): string | null {
    const h = this.state().holds.get(id);
    if (h) return h.counter;
    const r = this.one('SELECT counter FROM holds WHERE id = ? AND released = 0', id);
    return r?.counter === null || r?.counter === undefined ? null : String(r.counter);
  }

  refund(req: RefundRequest): number {
    const c = this.one('SELECT amount, counter FROM claims WHERE id = ?', req.claim);
    if (!c) {
      // The charge never landed (or not yet): void the claim so that it never will.
      this.sql.exec('INSERT INTO claims (id, amount, expires_at, void) VALUES (?, 0, ?, 1)', req.claim, req.now + CLAIM_TTL_SEC * 1000);
      return 0;
    }
    const charged = Number(c.amount);
    if (charged <= req.keep) return charged;
    const back = charged - req.keep;
    this.sql.exec('UPDATE claims SET amount = ?, void = ? WHERE id = ?', req.keep, req.keep === 0 ? 1 : 0, req.claim);
    this.debit(-back, req.keep === 0 ? -1 : 0);
    this.bump(c.counter === null ? null : String(c.counter), -back);
    this.record(req.claim, -back, 'refund', req.now);
    return req.keep;
  }

  release(req: ReleaseRequest): void {
    if (req.holdId) {
      // Remembered as released until it would have expired: a late-landing admit of this hold id is refused.
      const ttl = req.now + RELEASED_HOLD_TTL_MS;
      this.sql.exec(
        'INSERT INTO holds (id, amount, expires_at, released) VALUES (?, 0, ?, 1) ON CONFLICT (id) DO UPDATE SET released = 1',
        req.holdId,
        ttl,
      );
      this.state().holds.delete(req.holdId);
    }
    if (req.idemKey && req.idemOwner) {
      // The admit that set it stored its expiry as now + pendingTtlSec: that pair names it.
      this.sql.exec('DELETE FROM idem WHERE key = ? AND response IS NULL AND expires_at = ?', req.idemKey, req.idemOwner.at + req.idemOwner.ttlSec * 1000);
    } else if (req.idemKey) this.sql.exec('DELETE FROM idem WHERE key = ? AND response IS NULL', req.idemKey);
  }

  remember(req: RememberRequest): void {
    if (req.idem) {
      const i = req.idem;
      this.sql.exec('INSERT OR REPLACE INTO idem (key, fp, response, expires_at) VALUES (?, ?, ?, ?)', i.key, i.fingerprint, i.response, req.now + i.ttlSec * 1000);
    }
    if (req.job) {
      const j = req.job;
      this.sql.exec(
        'INSERT OR IGNORE INTO jobs (key, id, created_at, expires_at, remixed_from, meta) VALUES (?, ?, ?, ?, ?, ?)',
        j.key,
        j.id,
        j.createdAt,
        req.now + JOB_TTL_SEC * 1000,
        j.from ?? null,
        j.meta ?? null,
      );
    }
  }

  discard(req: DiscardRequest): boolean {
    const j = this.one('SELECT deleted FROM jobs WHERE key = ?', req.key);
    if (j && Number(j.deleted)) return false;
    if (!this.one('SELECT 1 FROM claims WHERE id = ?', req.key)) {
      // Not settled yet: end it at 0, so a completion that still arrives finds it settled and charges nothing.
      this.sql.exec('INSERT INTO claims (id, amount, expires_at) VALUES (?, 0, ?)', req.key, req.now + CLAIM_TTL_SEC * 1000);
      if (req.holdId) this.dropHold(req.holdId);
    }
    if (j) this.sql.exec('UPDATE jobs SET deleted = 1, state = ? WHERE key = ?', req.state, req.key);
    else this.sql.exec('INSERT INTO jobs (key, id, created_at, state, expires_at, deleted) VALUES (?, ?, ?, ?, ?, 1)', req.key, '', Math.floor(req.now / 1000), req.state, req.now + JOB_TTL_SEC * 1000);
    return true;
  }

  setWebhook(hook: WebhookConfig | null): boolean {
    if (!this.one('SELECT 1 FROM account WHERE id = 1')) return false;
    if (hook) this.sql.exec('INSERT OR REPLACE INTO webhook (id, url, nonce, created_at) VALUES (1, ?, ?, ?)', hook.url, hook.nonce, hook.createdAt);
    else this.sql.exec('DELETE FROM webhook');
    return true;
  }

  getWebhook(): WebhookConfig | null {
    const w = this.one('SELECT url, nonce, created_at FROM webhook WHERE id = 1');
    return w ? { url: String(w.url), nonce: String(w.nonce), createdAt: Number(w.created_at) } : null;
  }

  // ---- erasure and expiry without traffic (issue 18) ----
  private alarmArmed = false;
  private auditRetentionMs: number | null = null;

  /** Arms the expiry alarm once per object instance (the alarm re-arms itself while anything can still expire). */
  private armExpiry(): void {
    if (this.alarmArmed) return;
    this.alarmArmed = true;
    // By the clock, not a caller's `now` (which may be a stated time).
    this.ctx.storage.setAlarm(Date.now() + ALARM_EVERY_MS).catch(() => (this.alarmArmed = false));
  }

  /** Remembers the audit retention the gateway writes with, so the alarm can trim a trail nobody writes to. */
  private noteAuditRetention(ms: number): void {
    if (this.auditRetentionMs !== ms) {
      this.auditRetentionMs = ms;
      this.sql.exec("INSERT OR REPLACE INTO meta (k, v) VALUES ('audit_ms', ?)", ms);
    }
    this.armExpiry();
  }

  /**
   * Deletes what expired although the account made no request since (idempotency records, job index, holds,
   * claims, usage past its horizon, audit past its retention — an erased account's trail and tombstone included),
   * then re-arms for the next expiry, or not at all when nothing is left to expire.
   */
  override async alarm(): Promise<void> {
    const now = Date.now();
    this.nextSweep = 0;
    this.alarmArmed = true; // sweep() must not arm over the alarm computed below
    this.sweep(now);
    this.sql.exec('DELETE FROM usage WHERE seq IN (SELECT seq FROM usage WHERE at < ? LIMIT ?)', now - USAGE_RETENTION_MS, SWEEP);
    this.sql.exec('DELETE FROM samples WHERE claim IN (SELECT claim FROM samples WHERE at < ? LIMIT ?)', now - USAGE_RETENTION_MS, SWEEP);
    this.sql.exec('DELETE FROM refusals WHERE minute < ?', Math.floor((now - USAGE_RETENTION_MS) / 60_000));
    const auditMs = this.one("SELECT v FROM meta WHERE k = 'audit_ms'");
    if (auditMs) this.sql.exec('DELETE FROM audit WHERE seq IN (SELECT seq FROM audit WHERE at < ? LIMIT ?)', now - Number(auditMs.v), SWEEP);
    const min = (q: string, plus = 0) => {
      const t = this.one(q)?.t;
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
      this.alarmArmed = false;
      await this.ctx.storage.deleteAlarm();
      return;
    }
    await this.ctx.storage.setAlarm(Number(next) <= now ? now + ALARM_BACKLOG_MS : Math.max(Number(next), now + ALARM_EVERY_MS));
  }

  /**
   * The account object's part of an erase, in one transaction: refused while it holds money (unless forced);
   * otherwise every row but the audit trail is deleted (whatever tables the schema has), the tombstone is appended
   * with the amounts, and the trail is kept `auditRetentionMs` more (the alarm drops it then).
   */
  eraseRows(req: { force: boolean; now: number; requestId: string | null; keys: number; auditRetentionMs: number | null }): EraseResult {
    const { now } = req;
    const a = this.one('SELECT balance FROM account WHERE id = 1');
    const balance = a ? Number(a.balance) : 0;
    const held = a ? this.held(now) : 0;
    if (a && !req.force && (balance !== 0 || held !== 0)) return { ok: false, reason: 'not_empty', balance, held };
    const jobIds = this.sql.exec("SELECT id FROM jobs WHERE id != ''").toArray().map((r) => String(r.id));
    const listed = Number(this.one('SELECT COUNT(*) AS n FROM jobs WHERE deleted = 0')?.n ?? 0);
    const tables = this.sql.exec("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\'").toArray();
    for (const t of tables) if (!KEPT_ON_ERASE.has(String(t.name))) this.sql.exec(`DELETE FROM "${String(t.name)}"`);
    this.hot = undefined;
    this.rates.clear();
    this.lastUsed.clear();
    if (a) {
      const tombstone: AuditEvent = {
        at: now,
        type: ERASED_EVENT,
        request_id: req.requestId,
        key_id: null,
        detail: { forfeited_micro: balance, released_hold_micro: held, keys_deleted: req.keys, jobs_deleted: listed, forced: req.force },
      };
      this.sql.exec('INSERT INTO audit (at, event) VALUES (?, ?)', now, JSON.stringify(tombstone));
      this.sql.exec("INSERT OR REPLACE INTO meta (k, v) VALUES ('erased', ?)", now);
      if (req.auditRetentionMs) this.noteAuditRetention(req.auditRetentionMs);
    }
    return { ok: true, already: !a, balance, held, keys: req.keys, jobIds };
  }

  /** The key directory's part of an erase: the account's keys (revoked ones too) and its entry in the account list. */
  dropAccount(account: string): number {
    const gone = this.sql.exec('DELETE FROM keys WHERE account = ? RETURNING key_id', account).toArray().length;
    this.sql.exec('DELETE FROM accounts WHERE name = ?', account);
    return gone;
  }
}

/** A Durable Object jurisdiction (DATA_JURISDICTION); the label `unrestricted` stands for none. */
export type Jurisdiction = 'eu' | 'us' | 'fedramp' | 'fedramp-high';
export const UNRESTRICTED = 'unrestricted';

/** The deployment's ledger is not where DATA_JURISDICTION says: refuse to serve (empty balances would be wrong). */
export class ResidencyError extends Error {
  constructor(message: string) {
    super(message);
  }
}

/** How long a failed residency check is remembered before it is tried again (after an operator fixed it). */
const RESIDENCY_RETRY_MS = 10_000;

/**
 * The Ledger interface over Durable Object stubs (RPC). With a jurisdiction every object (the key directory and
 * each account's object) is reached through `namespace.jurisdiction(j)`, so Cloudflare keeps it, and its storage,
 * inside that jurisdiction. The unrestricted namespace's directory is the residency anchor: it records where this
 * deployment's ledger lives, and a gateway configured for another jurisdiction refuses to serve (checked once per
 * ledger instance, i.e. per isolate, before its first call).
 */
export class DurableLedger implements Ledger {
  private readonly label: string;
  private checked: { at: number; done: Promise<DurableObjectNamespace<LedgerStore>> } | null = null;

  private readonly root: DurableObjectNamespace<LedgerStore>;

  constructor(
    ns: DurableObjectNamespace,
    private readonly jurisdiction?: Jurisdiction,
  ) {
    // env.LEDGER is bound to the LedgerStore class (wrangler.toml); the binding's type does not say so (src/env.ts
    // imports nothing from above it).
    this.root = ns as unknown as DurableObjectNamespace<LedgerStore>;
    this.label = jurisdiction ?? UNRESTRICTED;
  }

  /** The namespace to use, once the anchor agrees with the configuration. */
  private ns(): Promise<DurableObjectNamespace<LedgerStore>> {
    const now = Date.now();
    if (!this.checked || (this.checked.at < 0 && now + this.checked.at > RESIDENCY_RETRY_MS)) {
      const done = this.resolve(now);
      const entry = { at: now, done };
      done.catch(() => (entry.at = -now));
      this.checked = entry;
    }
    return this.checked.done;
  }

  private async resolve(now: number): Promise<DurableObjectNamespace<LedgerStore>> {
    let ns = this.root;
    if (this.jurisdiction) {
      try {
        ns = this.root.jurisdiction(this.jurisdiction);
      } catch {
        throw new ResidencyError(`DATA_JURISDICTION is '${this.jurisdiction}' but this runtime cannot restrict Durable Objects to a jurisdiction (the local runtime does not implement it): unset DATA_JURISDICTION locally`);
      }
    }
    const recorded = await this.root.get(this.root.idFromName('keys')).residency(this.label, now);
    if (recorded !== this.label) {
      throw new ResidencyError(
        `Ledger residency mismatch: DATA_JURISDICTION is '${this.label}' but this deployment's ledger lives in '${recorded}'. Serving would show empty balances, so the gateway refuses; restore DATA_JURISDICTION or migrate (README "Data residency")`,
      );
    }
    return ns;
  }

  private async keys() {
    const ns = await this.ns();
    return ns.get(ns.idFromName('keys'));
  }

  private async acct(account: string) {
    const ns = await this.ns();
    return ns.get(ns.idFromName(`account:${account}`));
  }

  async findKey(hash: string) {
    return (await this.keys()).findKey(hash);
  }

  async issueKey(hash: string, rec: KeyRecord, credits: number, meta?: { label: string | null; createdAt: number }) {
    await (await this.acct(rec.account)).credit(rec.account, credits, true);
    await (await this.keys()).putKey(hash, rec, meta?.label ?? null, meta?.createdAt ?? Math.floor(Date.now() / 1000));
  }

  async revokeKey(keyId: string, now: number) {
    return (await this.keys()).revoke(keyId, now);
  }

  async updateKey(keyId: string, patch: KeyPatch) {
    return (await this.keys()).patchKey(keyId, patch);
  }

  async listKeys(account: string): Promise<KeyInfo[]> {
    const keys = await (await this.keys()).keysOf(account);
    const now = Date.now();
    const checks = keys.map((k) => (k.budget ? budgetCheck(k.keyId, k.budget, now).id : null));
    const state = await (await this.acct(account)).keyState(checks.filter((id): id is string => id !== null), now);
    return keys.map((k, i) => ({ ...k, lastUsedAt: state.used[k.keyId] ?? null, budgetUsed: checks[i] ? (state.counters[checks[i]!] ?? null) : null }));
  }

  async listAccounts(after: string | null, limit: number) {
    return (await this.keys()).accountNames(after, limit);
  }

  async adjust(req: AdjustRequest) {
    return (await this.acct(req.account)).adjust(req);
  }

  async usage(account: string, from: number, to: number, limit: number) {
    return (await this.acct(account)).usageBetween(from, to, limit);
  }

  async audit(account: string, events: AuditEvent[], retentionMs: number) {
    await (await this.acct(account)).appendAudit(events, retentionMs);
  }

  async auditLog(account: string, from: number, to: number, limit: number) {
    return (await this.acct(account)).auditBetween(from, to, limit);
  }

  async credit(account: string, amount: number, create: boolean) {
    const balance = await (await this.acct(account)).credit(account, amount, create);
    if (create && balance !== null) await (await this.keys()).noteAccount(account);
    return balance;
  }

  async account(account: string, now: number, counter?: string) {
    return (await this.acct(account)).view(now, counter, account);
  }

  async activity(account: string, from: number, to: number) {
    return (await this.acct(account)).activity(from, to);
  }

  async admit(req: AdmitRequest) {
    return (await this.acct(req.account)).admit(req);
  }

  async settle(req: SettleRequest) {
    return (await this.acct(req.account)).settle(req);
  }

  async refund(req: RefundRequest) {
    return (await this.acct(req.account)).refund(req);
  }

  async release(req: ReleaseRequest) {
    return (await this.acct(req.account)).release(req);
  }

  async remember(req: RememberRequest) {
    return (await this.acct(req.account)).remember(req);
  }

  async discard(req: DiscardRequest) {
    return (await this.acct(req.account)).discard(req);
  }

  async setWebhook(account: string, hook: WebhookConfig | null) {
    return (await this.acct(account)).setWebhook(hook);
  }

  async getWebhook(account: string) {
    return (await this.acct(account)).getWebhook();
  }

  /**
   * Erase: the account object first (its check and its deletion are one transaction, with the tombstone), then the
   * key directory, then the account object once more for what a request still in flight with a cached key (≤ 5 s)
   * may have left (a rate window, a last-use time).
   */
  async eraseAccount(req: EraseRequest): Promise<EraseResult> {
    const [keys, acct] = [await this.keys(), await this.acct(req.account)];
    const count = (await keys.keysOf(req.account)).length;
    const args = { force: req.force, now: req.now, requestId: req.requestId ?? null, keys: count, auditRetentionMs: req.auditRetentionMs ?? null };
    const r = await acct.eraseRows(args);
    if (!r.ok) return r;
    const dropped = await keys.dropAccount(req.account);
    await acct.eraseRows({ ...args, force: true });
    return { ...r, keys: dropped };
  }

  async setPhiScan(account: string, mode: PhiScanMode | null) {
    return (await this.keys()).setPhiScan(account, mode);
  }

  /** Where the runtime places the key directory (null where it does not say, as locally). */
  async directoryJurisdiction(): Promise<string | null> {
    return (await this.keys()).where();
  }

  /** Operator migration: re-points the residency anchor from `from` to `to` (see README "Data residency"). */
  moveResidency(from: string, to: string): Promise<boolean> {
    this.checked = null;
    return this.root.get(this.root.idFromName('keys')).moveResidency(from, to, Date.now());
  }
}
