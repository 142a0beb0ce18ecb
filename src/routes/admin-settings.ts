// /admin settings handlers: an account's webhook endpoint and PHI-scan override, and the ledger's residency move.
import type { Context } from 'hono';
import * as z from 'zod/mini';
import type { AppEnv } from '../app-env';
import { audit } from '../audit/trail';
import { forgetKeys, TEST_KEY } from '../http/auth';
import { randomId } from '../http/crypto';
import { badRequest, notFound } from '../http/errors';
import { customerUrl } from '../http/urls';
import { oneOf, parse, readJson } from '../http/validate';
import { webhookSecret } from '../jobs/webhooks';
import { DurableLedger, UNRESTRICTED } from '../ledger/durable/client';
import { execOf } from '../pipeline/context';
import { accountParam, reserved } from './admin-common';

export const webhookBody = z.object({ url: z.string({ error: 'must be a string' }).check(z.maxLength(2048, 'must be at most 2048 characters')) });

export const phiScanBody = z.object({ mode: z.nullable(oneOf(['block', 'off'])) });

export const residencyBody = z.object({ from: oneOf(['unrestricted', 'eu', 'us', 'fedramp', 'fedramp-high']) });

// PUT /admin/accounts/:account/webhook
// The account's customer webhook endpoint; the signing secret is shown in this answer only (derived, not stored).
export async function putWebhook(c: Context<AppEnv>) {
  const account = accountParam(c.req.param('account'));
  if (account === TEST_KEY.account) throw reserved();
  const cfg = c.get('cfg');
  const { url } = parse(webhookBody, await readJson(c.req.raw));
  const rules = { insecure: cfg.ALLOW_INSECURE_URLS, ownHosts: [new URL(c.req.url).host, ...(cfg.workerHost ? [cfg.workerHost] : [])] };
  if (!customerUrl(url, rules)) throw badRequest('url', "'url' must be a public https URL (no IP addresses, internal names or gateway hosts)");
  const hook = { url, nonce: randomId(16), createdAt: Math.floor(Date.now() / 1000) };
  const ledger = c.get('ledger');
  const rotated = (await ledger.getWebhook(account)) !== null;
  if (!(await ledger.setWebhook(account, hook))) throw notFound('No such account');
  c.set('auditDetail', { replaced: rotated });
  return c.json({ account, url, secret: await webhookSecret(cfg, account, hook.nonce), events: ['video.completed', 'video.failed'], created_at: hook.createdAt });
}

// GET /admin/accounts/:account/webhook
// The endpoint (never its secret) and its last delivery attempt, from the audit trail (the last 30 days).
export async function getWebhook(c: Context<AppEnv>) {
  const account = accountParam(c.req.param('account'));
  const ledger = c.get('ledger');
  const now = Date.now();
  const [hook, trail] = await Promise.all([ledger.getWebhook(account), ledger.auditLog(account, now - 30 * 86_400_000, now, 10_000)]);
  const last = trail.findLast((e) => e.type === 'webhook.sent');
  return c.json({
    account,
    url: hook?.url ?? null,
    created_at: hook?.createdAt ?? null,
    last_delivery: last ? { at: Math.floor(last.at / 1000), event_id: last.detail.event_id ?? null, event_type: last.detail.event_type ?? null, attempt: last.detail.attempt ?? null, status: last.detail.status ?? null } : null,
  });
}

// DELETE /admin/accounts/:account/webhook
export async function deleteWebhook(c: Context<AppEnv>) {
  const account = accountParam(c.req.param('account'));
  if (!(await c.get('ledger').setWebhook(account, null))) throw notFound('No such account');
  return c.json({ account, url: null, deleted: true });
}

// PUT /admin/accounts/:account/phi-scan
// Per-account PHI screening override (audited as an operator action): `off` for a customer whose reviewed content
// keeps matching, `block` to screen even when PHI_SCAN is off, null to follow PHI_SCAN. Effective within 5 s.
export async function putPhiScan(c: Context<AppEnv>) {
  const account = accountParam(c.req.param('account'));
  if (account === TEST_KEY.account) throw reserved();
  const { mode } = parse(phiScanBody, await readJson(c.req.raw));
  if (!(await c.get('ledger').setPhiScan(account, mode))) throw notFound('No such account');
  forgetKeys();
  const cfg = c.get('cfg');
  await audit({ cfg, ledger: c.get('ledger'), exec: execOf(c) }, account, { type: 'phi.policy', request_id: c.get('requestId'), detail: { mode, effective: mode ?? cfg.PHI_SCAN } });
  return c.json({ account, phi_scan: mode, effective: mode ?? cfg.PHI_SCAN });
}

// POST /admin/residency
// Data residency migration (README "Data residency"): re-points the residency anchor after the operator moved
// the ledger's contents to the jurisdiction DATA_JURISDICTION now names. Durable Object ledger only.
export async function moveResidency(c: Context<AppEnv>) {
  const cfg = c.get('cfg');
  if (cfg.upstash) throw badRequest(null, "With Upstash the ledger's residency is the database's region; there is nothing to move here");
  const { from } = parse(residencyBody, await readJson(c.req.raw));
  const to = cfg.DATA_JURISDICTION ?? UNRESTRICTED;
  if (!(await new DurableLedger(c.env.LEDGER, cfg.DATA_JURISDICTION).moveResidency(from, to))) {
    throw badRequest('from', `The ledger's residency is not '${from}'`);
  }
  return c.json({ residency: to, moved_from: from });
}
