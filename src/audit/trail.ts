// The audit trail: who did what, when, per account — operator actions, media URLs issued and media downloaded,
// webhooks sent (generations are the usage records, merged in on export). Never content, prompts, URLs or keys:
// only ids, counts, statuses and models. Stored on the ledger's own store (the account's Durable Object, or a sorted
// set per account on Upstash), kept AUDIT_RETENTION_DAYS. Written in the background of the request (waitUntil), so
// it adds no latency to the answer; without an execution context (unit calls) the write is awaited.
import type { Config } from '../config';
import type { Ledger } from '../ledger';
import type { AuditEvent } from '../ledger/types';

export interface AuditCtx {
  cfg: Config;
  ledger: Ledger;
  exec?: ExecutionContext;
}

export type AuditInput = Omit<AuditEvent, 'at' | 'request_id' | 'key_id'> & Partial<Pick<AuditEvent, 'request_id' | 'key_id'>>;

export function audit(ctx: AuditCtx, account: string, ...events: AuditInput[]): Promise<void> {
  const at = Date.now();
  const full = events.map((e) => ({ request_id: null, key_id: null, ...e, at }));
  const write = ctx.ledger.audit(account, full, ctx.cfg.AUDIT_RETENTION_DAYS * 24 * 3600 * 1000).catch(() => {});
  if (ctx.exec) {
    ctx.exec.waitUntil(write);
    return Promise.resolve();
  }
  return write;
}
