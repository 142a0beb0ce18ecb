import { Hono } from 'hono/tiny';
import type { Context } from 'hono';
import type { AppEnv } from '../app-env';
import { audit } from '../audit/trail';
import { TEST_KEY } from '../http/auth';
import { notFound, upstreamError } from '../http/errors';
import { parseWorkerKey } from '../media/deliver';
import { verifyMediaPath } from '../media/sign';
import { proxyFile, serveMedia } from '../media/store';
import { providerFor } from '../providers';

/** A download in the owner's audit trail (no key here: the signed URL was the permission). */
function trail(c: Context<AppEnv>, account: string, kind: string, status: number) {
  let exec: ExecutionContext | undefined;
  try {
    exec = c.executionCtx as unknown as ExecutionContext;
  } catch {
    exec = undefined;
  }
  return audit({ cfg: c.get('cfg'), ledger: c.get('ledger'), exec }, account, { type: 'media.downloaded', request_id: c.get('requestId'), detail: { kind, status } });
}

/** GET /v1/media/{key}?exp=&sig= — signed, expiring access to a re-hosted output or a private worker file. */
export const media = new Hono<AppEnv>().on(['GET', 'HEAD'], '/media/:key', async (c) => {
  const key = c.req.param('key');
  const cfg = c.get('cfg');
  await verifyMediaPath(cfg, key, c.req.query('exp'), c.req.query('sig'));
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
  const res = bucket ? await serveMedia(bucket, key, c.req.raw, (a) => (owner = a)) : null;
  if (!res) throw notFound('No such media');
  if (owner) await trail(c, owner, key.startsWith('v_') ? 'video' : 'image', res.status);
  return res;
});
