// The LedgerStore Durable Object (SQLite-backed): one object per account, one ("keys") for the key directory. Each
// RPC method is one line handing the object's Db to the concern module that does the work (see the files beside).

import { DurableObject } from 'cloudflare:workers';
import type {
  AdjustRequest,
  AdmitRequest,
  AuditEvent,
  DiscardRequest,
  KeyPatch,
  KeyRecord,
  PhiScanMode,
  RefundRequest,
  ReleaseRequest,
  RememberRequest,
  SettleRequest,
  WebhookConfig,
} from '../types';
import * as expiry from './expiry';
import * as jobs from './jobs';
import * as keys from './keys';
import * as limits from './limits';
import * as money from './money';
import { migrate } from './schema';
import { Db } from './state';
import * as usage from './usage';

export { REFUSAL_CODES } from './money';

/**
 * One object holds an account's money, holds, claims, usage, rate-limit state and idempotency records, or (the
 * "keys" object) maps key hashes to key records. Every method runs synchronously against SQLite inside the object,
 * so each call is atomic without locking. Expiring rows are found through an index on their expiry time and swept
 * a bounded batch at a time, so the cost of a call does not grow with an account's history.
 */
export class LedgerStore extends DurableObject<object> {
  private readonly db: Db;
  private readonly admits = { calls: 0, statements: 0 };

  constructor(ctx: DurableObjectState, env: object) {
    super(ctx, env);
    this.db = new Db(ctx.storage);
    migrate(this.db);
  }

  // ---- key directory (keys.ts) ----
  findKey(hash: string) { return keys.findKey(this.db, hash); }
  setPhiScan(account: string, mode: PhiScanMode | null) { return keys.setPhiScan(this.db, account, mode); }
  residency(label: string, now: number) { return keys.residency(this.db, label, now); }
  moveResidency(from: string, to: string, now: number) { return keys.moveResidency(this.db, from, to, now); }
  putKey(hash: string, rec: KeyRecord, label: string | null, createdAt: number) { keys.putKey(this.db, hash, rec, label, createdAt); }
  patchKey(keyId: string, patch: KeyPatch) { return keys.patchKey(this.db, keyId, patch); }
  noteAccount(name: string) { keys.noteAccount(this.db, name); }
  revoke(keyId: string, now: number) { return keys.revoke(this.db, keyId, now); }
  keysOf(account: string) { return keys.keysOf(this.db, account); }
  accountNames(after: string | null, limit: number) { return keys.accountNames(this.db, after, limit); }
  dropAccount(account: string) { return keys.dropAccount(this.db, account); }
  /** Where the runtime says this object lives (null: unrestricted, or a runtime that does not say). */
  where(): string | null { return this.ctx.id.jurisdiction ?? null; }

  // ---- money (money.ts) ----
  admit(req: AdmitRequest) {
    const before = this.db.statements;
    const r = money.admit(this.db, req);
    this.admits.calls++;
    this.admits.statements += this.db.statements - before;
    return r;
  }
  /** Admits this object answered since it started, and the SQL statements they ran (npm run bench reads it). */
  admitCost() { return { ...this.admits }; }
  settle(req: SettleRequest) { return money.settle(this.db, req); }
  refund(req: RefundRequest) { return money.refund(this.db, req); }
  release(req: ReleaseRequest) { money.release(this.db, req); }
  adjust(req: AdjustRequest) { return money.adjust(this.db, req); }
  credit(name: string, amount: number, create: boolean) { return money.credit(this.db, name, amount, create); }

  // ---- jobs, stored responses, webhook (jobs.ts) ----
  remember(req: RememberRequest) { jobs.remember(this.db, req); }
  discard(req: DiscardRequest) { return jobs.discard(this.db, req); }
  setWebhook(hook: WebhookConfig | null) { return jobs.setWebhook(this.db, hook); }
  getWebhook() { return jobs.getWebhook(this.db); }

  // ---- usage, audit, statistics, account view (usage.ts) ----
  view(now: number, counter?: string, name?: string) { return usage.view(this.db, now, counter, name); }
  usageBetween(from: number, to: number, limit: number) { return usage.usageBetween(this.db, from, to, limit); }
  appendAudit(events: AuditEvent[], retentionMs: number) { usage.appendAudit(this.db, events, retentionMs); }
  auditBetween(from: number, to: number, limit: number) { return usage.auditBetween(this.db, from, to, limit); }
  activity(from: number, to: number) { return usage.activity(this.db, from, to); }

  // ---- key last use, budget counters (limits.ts) ----
  usedAt() { return limits.usedAt(this.db); }
  keyState(counters: string[], now: number) { return limits.keyState(this.db, counters, now); }

  // ---- expiry and erasure (expiry.ts) ----
  override alarm(): Promise<void> { return expiry.alarm(this.db); }
  eraseRows(req: expiry.EraseRowsRequest) { return expiry.eraseRows(this.db, req); }
}
