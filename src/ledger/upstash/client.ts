// The production ledger on Upstash Redis (REST): the class, each method delegating to the file of its concern. Every
// multi-step money operation is one Lua script (atomic on the server, one HTTP round trip); per-account keys share
// the hash tag {account}; claims and released holds are keys of their own with a TTL, so no script scans history.
import { RestRedis } from '../rest';
import type {
  AccountView,
  Activity,
  AdjustRequest,
  AdjustResult,
  AdmitRequest,
  AdmitResult,
  AuditEvent,
  DiscardRequest,
  EraseRequest,
  EraseResult,
  KeyInfo,
  KeyPatch,
  KeyRecord,
  Ledger,
  PhiScanMode,
  RefundRequest,
  ReleaseRequest,
  RememberRequest,
  SettleRequest,
  SettleResult,
  UsageRecord,
  WebhookConfig,
} from '../types';
import { admit } from './admit';
import { eraseAccount } from './erase';
import * as jobs from './jobs';
import * as keys from './keys';
import * as money from './money';
import * as usage from './usage';

export class UpstashLedger implements Ledger {
  private readonly redis: RestRedis;

  constructor(opts: { url: string; token: string; timeoutMs: number }) {
    this.redis = new RestRedis(opts.url.replace(/\/+$/, ''), opts.token, opts.timeoutMs);
  }

  // Keys and account settings (keys.ts).
  findKey(hash: string): Promise<KeyRecord | null> {
    return keys.findKey(this.redis, hash);
  }
  issueKey(hash: string, rec: KeyRecord, credits: number, meta?: { label: string | null; createdAt: number }): Promise<void> {
    return keys.issueKey(this.redis, hash, rec, credits, meta);
  }
  revokeKey(keyId: string, now: number): Promise<string | null> {
    return keys.revokeKey(this.redis, keyId, now);
  }
  updateKey(keyId: string, patch: KeyPatch): Promise<{ account: string; revoked: boolean } | null> {
    return keys.updateKey(this.redis, keyId, patch);
  }
  listKeys(account: string): Promise<KeyInfo[]> {
    return keys.listKeys(this.redis, account);
  }
  listAccounts(after: string | null, limit: number): Promise<{ accounts: string[]; hasMore: boolean }> {
    return keys.listAccounts(this.redis, after, limit);
  }
  setPhiScan(account: string, mode: PhiScanMode | null): Promise<boolean> {
    return keys.setPhiScan(this.redis, account, mode);
  }
  setWebhook(account: string, hook: WebhookConfig | null): Promise<boolean> {
    return keys.setWebhook(this.redis, account, hook);
  }
  getWebhook(account: string): Promise<WebhookConfig | null> {
    return keys.getWebhook(this.redis, account);
  }

  // Money (admit.ts, money.ts).
  admit(req: AdmitRequest): Promise<AdmitResult> {
    return admit(this.redis, req);
  }
  settle(req: SettleRequest): Promise<SettleResult> {
    return money.settle(this.redis, req);
  }
  refund(req: RefundRequest): Promise<number> {
    return money.refund(this.redis, req);
  }
  release(req: ReleaseRequest): Promise<void> {
    return money.release(this.redis, req);
  }
  adjust(req: AdjustRequest): Promise<AdjustResult> {
    return money.adjust(this.redis, req);
  }
  credit(account: string, amount: number, create: boolean): Promise<number | null> {
    return money.credit(this.redis, account, amount, create);
  }

  // Jobs (jobs.ts).
  remember(req: RememberRequest): Promise<void> {
    return jobs.remember(this.redis, req);
  }
  discard(req: DiscardRequest): Promise<boolean> {
    return jobs.discard(this.redis, req);
  }

  // Usage, audit and the account view (usage.ts).
  account(account: string, now: number, counter?: string): Promise<AccountView | null> {
    return usage.account(this.redis, account, now, counter);
  }
  usage(account: string, from: number, to: number, limit: number): Promise<UsageRecord[]> {
    return usage.usage(this.redis, account, from, to, limit);
  }
  audit(account: string, events: AuditEvent[], retentionMs: number): Promise<void> {
    return usage.audit(this.redis, account, events, retentionMs);
  }
  auditLog(account: string, from: number, to: number, limit: number): Promise<AuditEvent[]> {
    return usage.auditLog(this.redis, account, from, to, limit);
  }
  activity(account: string, from: number, to: number): Promise<Activity> {
    return usage.activity(this.redis, account, from, to);
  }

  // Erasure (erase.ts).
  eraseAccount(req: EraseRequest): Promise<EraseResult> {
    return eraseAccount(this.redis, req);
  }
}
