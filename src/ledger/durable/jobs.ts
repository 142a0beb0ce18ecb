// An account object's job index (what was created, its state, deletion) and idempotency responses stored after a
// request, plus the account's webhook configuration.

import { CLAIM_TTL_SEC, JOB_TTL_SEC, type DiscardRequest, type JobPage, type JobRecord, type RememberRequest, type WebhookConfig } from '../types';
import type { Db, Row } from './state';

const jobOf = (j: Row): JobRecord => ({
  key: String(j.key),
  id: String(j.id),
  createdAt: Number(j.created_at),
  state: j.state === null ? null : String(j.state),
  from: j.remixed_from === null || j.remixed_from === undefined ? null : String(j.remixed_from),
  meta: j.meta === null || j.meta === undefined ? null : String(j.meta),
});

export function job(db: Db, key: string, now: number): JobRecord | null {
  const j = db.one('SELECT key, id, created_at, state, remixed_from, meta FROM jobs WHERE key = ? AND expires_at > ?', key, now);
  return j ? jobOf(j) : null;
}

/** A page of live, undeleted jobs in (created_at, key) order after a position, and whether more follow. */
export function page(db: Db, p: JobPage, now: number): { jobs: JobRecord[]; hasMore: boolean } {
  const desc = p.order === 'desc';
  const [cmp, dir] = desc ? ['<', 'DESC'] : ['>', 'ASC'];
  const where = p.after ? `AND (created_at ${cmp} ? OR (created_at = ? AND key ${cmp} ?))` : '';
  const args: SqlStorageValue[] = p.after ? [p.after.createdAt, p.after.createdAt, p.after.key] : [];
  const rows = db.sql
    .exec(
      `SELECT key, id, created_at, state, remixed_from FROM jobs WHERE deleted = 0 AND expires_at > ? ${where} ORDER BY created_at ${dir}, key ${dir} LIMIT ?`,
      now,
      ...args,
      p.limit + 1,
    )
    .toArray();
  return { jobs: rows.slice(0, p.limit).map(jobOf), hasMore: rows.length > p.limit };
}

export function remember(db: Db, req: RememberRequest): void {
  if (req.idem) {
    const i = req.idem;
    db.sql.exec('INSERT OR REPLACE INTO idem (key, fp, response, expires_at) VALUES (?, ?, ?, ?)', i.key, i.fingerprint, i.response, req.now + i.ttlSec * 1000);
  }
  if (req.job) {
    const j = req.job;
    db.sql.exec(
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

export function discard(db: Db, req: DiscardRequest): boolean {
  const j = db.one('SELECT deleted FROM jobs WHERE key = ?', req.key);
  if (j && Number(j.deleted)) return false;
  if (!db.one('SELECT 1 FROM claims WHERE id = ?', req.key)) {
    // Not settled yet: end it at 0, so a completion that still arrives finds it settled and charges nothing.
    db.sql.exec('INSERT INTO claims (id, amount, expires_at) VALUES (?, 0, ?)', req.key, req.now + CLAIM_TTL_SEC * 1000);
    if (req.holdId) db.dropHold(req.holdId);
  }
  if (j) db.sql.exec('UPDATE jobs SET deleted = 1, state = ? WHERE key = ?', req.state, req.key);
  else db.sql.exec('INSERT INTO jobs (key, id, created_at, state, expires_at, deleted) VALUES (?, ?, ?, ?, ?, 1)', req.key, '', Math.floor(req.now / 1000), req.state, req.now + JOB_TTL_SEC * 1000);
  return true;
}

export function setWebhook(db: Db, hook: WebhookConfig | null): boolean {
  if (!db.one('SELECT 1 FROM account WHERE id = 1')) return false;
  if (hook) db.sql.exec('INSERT OR REPLACE INTO webhook (id, url, nonce, created_at) VALUES (1, ?, ?, ?)', hook.url, hook.nonce, hook.createdAt);
  else db.sql.exec('DELETE FROM webhook');
  return true;
}

export function getWebhook(db: Db): WebhookConfig | null {
  const w = db.one('SELECT url, nonce, created_at FROM webhook WHERE id = 1');
  return w ? { url: String(w.url), nonce: String(w.nonce), createdAt: Number(w.created_at) } : null;
}
