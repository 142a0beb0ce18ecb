// The /admin API (ADMIN_TOKEN): operator auth, the audit of every operator action on an account, and the route table;
// the handlers are in admin-keys.ts, admin-accounts.ts and admin-settings.ts.
import { Hono } from 'hono/tiny';
import type { AppEnv } from '../app-env';
import { requireAdmin } from '../http/auth';
import { auditFor, usageFor } from './usage';
import { audit } from '../audit/trail';
import { route } from '../http/log';
import { execOf } from '../pipeline/context';
import { statsFor } from './stats';
import { ACCOUNT, accountParam } from './admin-common';
import { accountKeys, issueKey, patchKey, revokeKey } from './admin-keys';
import { adjust, credit, eraseAccount, getAccount, listAccounts } from './admin-accounts';
import { deleteWebhook, getWebhook, moveResidency, putPhiScan, putWebhook } from './admin-settings';

export { DEFAULT_RPM, issueBody, patchKeyBody } from './admin-keys';
export { adjustBody, creditBody, eraseQuery, pageQuery } from './admin-accounts';
export { phiScanBody, residencyBody, webhookBody } from './admin-settings';

const ACCOUNT_PATH = /^\/admin\/accounts\/([^/]+)/;

/**
 * Operator reads of an account's data are recorded as `operator.read` — at most once per account, route and minute
 * in an isolate (the console's page loads must not drown the trail); changes as `operator`, every time.
 */
const lastReads = new Map<string, number>();
const READ_EVERY_MS = 60_000;

function firstReadThisMinute(account: string, action: string, now: number): boolean {
  const k = `${account}\n${action}`;
  if ((lastReads.get(k) ?? -Infinity) > now - READ_EVERY_MS) return false;
  if (lastReads.size > 10_000) lastReads.clear();
  lastReads.set(k, now);
  return true;
}

export const admin = new Hono<AppEnv>()
  .use(async (c, next) => {
    await requireAdmin(c.req.header('authorization'), c.get('cfg'));
    await next();
    // Every operator action on an account is in its audit trail (listing all accounts is not one account's).
    const account = c.get('auditAccount') ?? ACCOUNT_PATH.exec(c.req.path)?.[1];
    if (account && ACCOUNT.test(account)) {
      const action = route(c);
      const read = c.req.method === 'GET';
      if (read && !firstReadThisMinute(account, action, Date.now())) return;
      await audit({ cfg: c.get('cfg'), ledger: c.get('ledger'), exec: execOf(c) }, account, {
        type: read ? 'operator.read' : 'operator',
        request_id: c.get('requestId'),
        detail: { action, status: c.res.status, ...(c.res.status < 300 ? c.get('auditDetail') : {}) },
      });
    }
  })
  .post('/keys', issueKey)
  .patch('/keys/:keyId', patchKey)
  .delete('/keys/:keyId', revokeKey)
  .get('/accounts', listAccounts)
  // Requests, outcomes, refusals by code, spend and upstream latency, grouped by day, model, account or key.
  .get('/stats', (c) => {
    const account = c.req.query('account');
    if (account === undefined) return statsFor(c);
    c.set('auditAccount', accountParam(account)); // one account's data: an operator read of it
    return statsFor(c, accountParam(account));
  })
  // Includes the shared test account (`test`): the free tier's usage, at $0.
  .get('/accounts/:account/usage', (c) => usageFor(c, accountParam(c.req.param('account'))))
  // JSON Lines over a time range: operator actions, generations, media issued/downloaded, webhooks sent.
  .get('/accounts/:account/audit', (c) => auditFor(c, accountParam(c.req.param('account'))))
  .get('/accounts/:account/keys', accountKeys)
  .post('/accounts/:account/adjustments', adjust)
  .post('/accounts/:account/credits', credit)
  .put('/accounts/:account/webhook', putWebhook)
  .get('/accounts/:account/webhook', getWebhook)
  .delete('/accounts/:account/webhook', deleteWebhook)
  .put('/accounts/:account/phi-scan', putPhiScan)
  .post('/residency', moveResidency)
  .delete('/accounts/:account', eraseAccount)
  .get('/accounts/:account', getAccount);
