import { Hono } from 'hono/tiny';
import type { Context } from 'hono';
import type { AppEnv } from '../app-env';
import { audit } from '../audit/trail';
import { TEST_KEY } from '../http/auth';
import { ApiError, notFound, upstreamError } from '../http/errors';
import { retentionMs } from '../jobs/retention';
import { parseWorkerKey } from '../media/deliver';
import { verifyMediaPath } from '../media/sign';
import { dropExpired, expiresOf, proxyFile, serveMedia } from '../media/store';
import { execOf } from '../pipeline/context';
import { providerFor } from '../providers';

const GONE = 'No such media: it was deleted, or its retention period (MEDIA_RETENTION_HOURS) ended';

/** A download in the owner's audit trail (no key here: the signed URL was the permission). */
function trail(c: Context<AppEnv>, account: string, kind: string, status: number) {
  return audit({ cfg: c.get('cfg'), ledger: c.get('ledger'), exec: execOf(c) }, account, { type: 'media.downloaded', request_id: c.get('requestId'), detail: { kind, status } });
}

/**
 * A genuine link past its `exp`: if what it named is past its retention (or deleted), it is gone for good — a 404,
 * not "fetch a fresh one" — and an expired copy still there is deleted in the background.
 */
async function goneForGood(c: Context<AppEnv>, key: string): Promise<boolean> {
  const bucket = c.env.MEDIA;
  if (!bucket || parseWorkerKey(key)) return false;
  const head = await bucket.head(key);
  if (!head) return true;
  if (expiresOf(head, retentionMs(c.get('cfg'))) > Date.now()) return false;
  await dropExpired(bucket, key, execOf(c));
  return true;
}

/** GET /v1/media/{key}?exp=&sig= — signed, expiring access to a re-hosted output or a private worker file. */
export const media = new Hono<AppEnv>().on(['GET', 'HEAD'], '/media/:key', async (c) => {
  const key = c.req.param('key');
  const cfg = c.get('cfg');
  try {
    await verifyMediaPath(cfg, key, c.req.query('exp'), c.req.query('sig'));
  } catch (err) {
    if (err instanceof ApiError && err.code === 'link_expired' && (await goneForGood(c, key))) throw notFound(GONE);
    throw err;
  }
  const worker = parseWorkerKey(key);
  if (worker) {
    const res = await providerFor('worker', cfg).open(worker, c.req.header('range'));
    if (res.status === 404) throw notFound('No such media');
    if (!res.ok && res.status !== 416) throw upstreamError(`The worker could not serve the file (HTTP ${res.status})`);
    const out = proxyFile(res, worker.contentType, c.req.method === 'HEAD');
    // Worker files are the free tier's: its shared account.
    await trail(c, TEST_KEY.account, worker.contentType.startsWith('video/') ? 'video' : 'image', out.status);
    return out;
  }
  const bucket = c.env.MEDIA;
  let owner: string | undefined;
  // Past its retention end an object is gone (404), and deleted in the background.
  const res = bucket ? await serveMedia(bucket, key, c.req.raw, (a) => (owner = a), { retentionMs: retentionMs(cfg), exec: execOf(c) }) : null;
  if (!res) throw notFound(GONE);
  if (owner) await trail(c, owner, key.startsWith('v_') ? 'video' : 'image', res.status);
  return res;
});
