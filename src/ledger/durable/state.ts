// The per-object context every concern module works on: the SQLite handle, the hot balance and live holds (kept in
// memory, written through), rate and last-use state, and the few helpers that move money rows (debit, record).

import { USAGE_RETENTION_MS, type CounterView } from '../types';

export type Row = Record<string, SqlStorageValue>;
export type Hold = { amount: number; expiresAt: number; counter: string | null };

export class Db {
  /** The object's SQLite, every statement counted (`statements`: what `npm run bench` reports per admit). */
  readonly sql: Pick<SqlStorage, 'exec'>;
  statements = 0;
  /**
   * Hot state, kept in memory and written through to SQLite (one object runs one request at a time, so memory and
   * storage never disagree): the balance and the live holds, loaded on first use.
   */
  hot?: { balance: number | null; holds: Map<string, Hold> };
  /**
   * Rate-limit state (GCRA theoretical arrival time per key) lives only here: it is per key and short-lived, and an
   * object that restarts simply starts its keys' bursts afresh.
   */
  readonly rates = new Map<string, number>();
  /** When each key's last use was last written (limits.ts writes at most once a minute per key). */
  readonly lastUsed = new Map<string, number>();
  usageWrites = 0;
  nextSweep = 0;
  alarmArmed = false;
  auditRetentionMs: number | null = null;

  constructor(readonly storage: DurableObjectStorage) {
    const raw = storage.sql;
    this.sql = {
      exec: <T extends Record<string, SqlStorageValue>>(query: string, ...args: unknown[]) => {
        this.statements++;
        return raw.exec<T>(query, ...args);
      },
    };
  }

  one(query: string, ...args: SqlStorageValue[]): Row | undefined {
    return this.sql.exec(query, ...args).toArray()[0];
  }

  state(): { balance: number | null; holds: Map<string, Hold> } {
    if (!this.hot) {
      const a = this.one('SELECT balance FROM account WHERE id = 1');
      const holds = new Map<string, Hold>();
      for (const h of this.sql.exec('SELECT id, amount, expires_at, counter FROM holds WHERE released = 0').toArray()) {
        holds.set(String(h.id), { amount: Number(h.amount), expiresAt: Number(h.expires_at), counter: h.counter === null ? null : String(h.counter) });
      }
      this.hot = { balance: a ? Number(a.balance) : null, holds };
    }
    return this.hot;
  }

  balance(): number | null {
    return this.state().balance;
  }

  /** Sum of the live holds (from memory; expired ones dropped as they are met); with `counter`, of those made under it. */
  held(now: number, counter?: string): number {
    let total = 0;
    for (const [id, h] of this.state().holds) {
      if (h.expiresAt <= now) this.state().holds.delete(id);
      else if (counter === undefined || h.counter === counter) total += h.amount;
    }
    return total;
  }

  /** Moves the balance (storage and memory together); `spent`/`charges` follow what was charged or refunded. */
  debit(amount: number, charges: number): void {
    this.sql.exec('UPDATE account SET balance = balance - ?, spent = spent + ?, charges = charges + ? WHERE id = 1', amount, amount, charges);
    const st = this.state();
    if (st.balance !== null) st.balance -= amount;
  }

  dropHold(id: string): void {
    this.sql.exec('UPDATE holds SET released = 1 WHERE id = ?', id);
    this.state().holds.delete(id);
  }

  /** A usage row; kept for USAGE_RETENTION_MS (the usage API's horizon), trimmed now and then, not on every write. */
  record(claim: string, amount: number, memo: string, now: number): void {
    this.sql.exec('INSERT INTO usage (claim, amount, memo, at) VALUES (?, ?, ?, ?)', claim, amount, memo, now);
    if (++this.usageWrites % 64 === 0) {
      this.sql.exec('DELETE FROM usage WHERE at < ?', now - USAGE_RETENTION_MS);
      this.sql.exec('DELETE FROM samples WHERE at < ?', now - USAGE_RETENTION_MS);
    }
  }

  // ---- per-key budgets: spend counters (charged, net of refunds) and the live holds made under them ----
  counterView(id: string, now: number): CounterView {
    return { charged: Number(this.one('SELECT amount FROM spend WHERE id = ?', id)?.amount ?? 0), held: this.held(now, id) };
  }

  /** Adds to an existing counter (a refund, or a hold settling into its charge, after the counter expired moves nothing). */
  bump(id: string | null | undefined, amount: number): void {
    if (id && amount !== 0) this.sql.exec('UPDATE spend SET amount = amount + ? WHERE id = ?', amount, id);
  }
}
