// DurableLedger: the Ledger interface over LedgerStore stubs (RPC), with the data-residency check that runs before
// the first call; plus the jurisdiction names and the ResidencyError it refuses with.

import { budgetCheck } from '../budget';
import type {
  AdjustRequest,
  AdmitRequest,
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
  WebhookConfig,
} from '../types';
import type { LedgerStore } from './store';

/** A Durable Object jurisdiction (DATA_JURISDICTION); the label `unrestricted` stands for none. */
export type Jurisdiction = 'eu' | 'us' | 'fedramp' | 'fedramp-high';
export const UNRESTRICTED = 'unrestricted';

/** The deployment's ledger is not where DATA_JURISDICTION says: refuse to serve (empty balances would be wrong). */
export class ResidencyError extends Error {
  constructor(message: string) {
    super(message);
  }
}

/** Object ids an isolate keeps (one per account it served; ~100 bytes each). */
const MAX_CACHED_IDS = 10_000;

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

  private keys() {
    return this.stub('keys');
  }

  private acct(account: string) {
    return this.stub(`account:${account}`);
  }

  /** Object ids by name: derived once per isolate (a hash of the name), not on every call. Bounded. */
  private readonly ids = new Map<string, DurableObjectId>();

  private async stub(name: string) {
    const ns = await this.ns();
    let id = this.ids.get(name);
    if (!id) {
      if (this.ids.size >= MAX_CACHED_IDS) this.ids.clear();
      this.ids.set(name, (id = ns.idFromName(name)));
    }
    return ns.get(id);
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
