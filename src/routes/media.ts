import { Hono } from 'hono/tiny';
import type { AppEnv } from '../app-env';
import { notFound, upstreamError } from '../http/errors';
import { parseWorkerKey } from '../media/deliver';
import { verifyMediaPath } from '../media/sign';
import { proxyFile, serveMedia } from '../media/store';
import { providerFor } from '../providers';

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
    return proxyFile(res, worker.contentType, c.req.method === 'HEAD');
  }
  const bucket = c.env.MEDIA;
  const res = bucket ? await serveMedia(bucket, key, c.req.raw) : null;
  if (!res) throw notFound('No such media');
  return res;
});
