// POST /v1/hooks/fal/{token}: fal's completion webhook (not for customers). The signature is checked first (401
// and nothing else happens when it fails); the token names the job (sealed, see jobs/id.ts) and the signed request
// id completes it. The webhook is only a nudge: the job is then followed exactly as a poll would — the provider's
// own status, the same settle under the same claim — so a replayed or early webhook cannot bill anything twice.
import { Hono } from 'hono/tiny';
import type { AppEnv } from '../app-env';
import { ApiError, notFound } from '../http/errors';
import { encodeJob, openHook } from '../jobs/id';
import { execOf } from '../pipeline/context';
import { followJob } from '../pipeline/video-follow';
import { verifyFalWebhook } from '../providers/fal-webhook';

export const hooks = new Hono<AppEnv>().post('/hooks/fal/:token', async (c) => {
  const cfg = c.get('cfg');
  const raw = new Uint8Array(await c.req.arrayBuffer());
  const requestId = await verifyFalWebhook(cfg, c.req.raw.headers, raw);
  if (!requestId) throw new ApiError(401, 'invalid_signature', 'The webhook signature is missing, invalid or stale');
  const pending = await openHook(cfg.SIGNING_SECRET, c.req.param('token'));
  if (!pending || pending.p !== 'fal') throw notFound('No such job');
  const job = { ...pending, r: requestId };
  const id = await encodeJob(cfg.SIGNING_SECRET, job);
  const status = await followJob({ env: c.env, cfg, ledger: c.get('ledger'), origin: new URL(c.req.url).origin, exec: execOf(c) }, job, id);
  // No record yet (the enqueue has not completed: queued) or deleted (null): nothing to do now; the watcher follows it.
  return c.json({ received: true, status });
});
