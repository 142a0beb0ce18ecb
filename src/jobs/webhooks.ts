// Customer webhooks: `video.completed` / `video.failed` in OpenAI's event shape, signed the Standard Webhooks way
// (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256 of id.timestamp.body>`), so the
// official SDK's `client.webhooks.unwrap(body, headers, secret)` accepts them. The job's first settle queues the
// event (once per job, whoever ended it); the JOBS consumer delivers it and re-queues it with backoff on a non-2xx
// answer or a timeout, for 24 h, always under the same `webhook-id`. The secret is never stored: it is derived from
// SIGNING_SECRET, the account and a nonce that is replaced when the endpoint is set again.
import type { Config } from '../config';
import type { Env } from '../env';
import { base64, hmac, toHex } from '../http/crypto';
import { customerUrl } from '../http/urls';
import type { Ledger } from '../ledger';
import type { Job } from './id';
import { audit } from '../audit/trail';

import type { VideoEvent, WebhookMessage } from './messages';
export type { VideoEvent, WebhookMessage } from './messages';

/** How long a delivery is retried, and the wait before attempt n + 1: 5 s, 10 s, 20 s … at most 1 h. */
export const DELIVERY_WINDOW_MS = 24 * 3600 * 1000;
export const deliveryDelaySec = (n: number) => Math.min(3600, 5 * 2 ** n);
const DELIVERY_TIMEOUT_MS = 10_000;

/** The endpoint's signing secret, `whsec_` + base64 of 32 bytes (derived, never stored). */
export async function webhookSecret(cfg: Config, account: string, nonce: string): Promise<string> {
  return `whsec_${base64(await hmac(cfg.SIGNING_SECRET, 'webhook-secret', `${account}\n${nonce}`))}`;
}

/** Standard Webhooks signature header for `body` sent as message `id` at `timestamp` (unix seconds). */
export async function signWebhook(secret: string, id: string, timestamp: number, body: string): Promise<string> {
  const raw = Uint8Array.from(atob(secret.slice('whsec_'.length)), (c) => c.charCodeAt(0));
  const key = await crypto.subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(`${id}.${timestamp}.${body}`)));
  return `v1,${base64(mac)}`;
}

/** Queues the job's one event (the free tier's shared account has no webhook). Never fails the caller. */
export async function notify(ctx: { env: Env; cfg: Config }, job: Job, videoId: string, claim: string, status: 'completed' | 'failed', at: number): Promise<void> {
  if (!ctx.env.JOBS || job.p !== 'fal') return;
  const event: VideoEvent = {
    // Stable per job: a job that is (somehow) settled twice would still name one event.
    id: `evt_${toHex(await hmac(ctx.cfg.SIGNING_SECRET, 'webhook-event', claim)).slice(0, 32)}`,
    object: 'event',
    created_at: at,
    type: status === 'completed' ? 'video.completed' : 'video.failed',
    data: { id: videoId },
  };
  const msg: WebhookMessage = { t: 'webhook', account: job.a, event, first: Date.now(), n: 0 };
  await ctx.env.JOBS.send(msg).catch(() => {});
}

/**
 * One delivery attempt. `true` when it is done (delivered, or nothing to deliver to); `false` to try again later.
 * The endpoint is read at delivery time: a removed endpoint stops deliveries, a replaced one gets them.
 */
export async function deliver(env: Env, cfg: Config, ledger: Ledger, msg: WebhookMessage): Promise<boolean> {
  const hook = await ledger.getWebhook(msg.account);
  if (!hook) return true;
  const url = customerUrl(hook.url, { insecure: cfg.ALLOW_INSECURE_URLS, ownHosts: cfg.workerHost ? [cfg.workerHost] : [] });
  if (!url) return true;
  const body = JSON.stringify(msg.event);
  const timestamp = Math.floor(Date.now() / 1000);
  const signature = await signWebhook(await webhookSecret(cfg, msg.account, hook.nonce), msg.event.id, timestamp, body);
  try {
    const res = await fetch(url, {
      method: 'POST',
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS),
      headers: {
        'content-type': 'application/json',
        'user-agent': 'phi-gateway-webhooks/1',
        'webhook-id': msg.event.id,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signature,
      },
    });
    await res.body?.cancel().catch(() => {});
    const ok = res.status >= 200 && res.status < 300;
    await sent(cfg, ledger, msg, res.status);
    return ok;
  } catch {
    await sent(cfg, ledger, msg, 'no_answer');
    return false;
  }
}

/** Each attempt in the account's audit trail: the event id and type, the answer, never the URL. */
const sent = (cfg: Config, ledger: Ledger, msg: WebhookMessage, status: number | string) =>
  audit({ cfg, ledger }, msg.account, { type: 'webhook.sent', detail: { event_id: msg.event.id, event_type: msg.event.type, attempt: msg.n + 1, status } });

/** Delivers, or queues the next attempt (same event, same id) while the 24 h window lasts. */
export async function deliverOrRequeue(env: Env, cfg: Config, ledger: Ledger, msg: WebhookMessage): Promise<void> {
  if (await deliver(env, cfg, ledger, msg)) return;
  if (!env.JOBS || Date.now() - msg.first >= DELIVERY_WINDOW_MS) {
    console.log(JSON.stringify({ event: 'webhook_abandoned', error: 'delivery_failed', attempts: msg.n + 1 }));
    return;
  }
  await env.JOBS.send({ ...msg, n: msg.n + 1 }, { delaySeconds: deliveryDelaySec(msg.n) });
}
