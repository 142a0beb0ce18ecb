import { Hono } from 'hono/tiny';
import type { AppEnv } from '../app-env';
import { notFound, upstreamError } from '../http/errors';
import { parseWorkerKey } from '../media/deliver';
import { verifyMediaPath } from '../media/sign';
import { serveMedia } from '../media/store';
import { providerFor } from '../providers';

const PASS_HEADERS = ['content-type', 'content-length', 'content-range', 'etag', 'last-modified'];

/** GET /v1/media/{key}?exp=&sig= — signed, expiring access to a re-hosted output or a private worker file. */
export const media = new Hono<AppEnv>().on(['GET', 'HEAD'], '/media/:key', async (c) => {
  const key = c.req.param('key');
  const cfg = c.get('cfg');
  await verifyMediaPath(cfg, key, c.req.query('exp'), c.req.query('sig'));
  const worker = parseWorkerKey(key);
  if (worker) {
    const res = await providerFor('worker', cfg).open(worker, c.req.header('range'));
    if (res.status === 404) throw notFound('No such media');
    if (!res.ok) throw upstreamError(`The worker could not serve the file (HTTP ${res.status})`);
    const headers = new Headers({ 'cache-control': 'private, max-age=0', 'accept-ranges': 'bytes' });
    for (const h of PASS_HEADERS) {
      const v = res.headers.get(h);
      if (v) headers.set(h, v);
    }
    headers.set('content-type', worker.contentType);
    return new Response(c.req.method === 'HEAD' ? null : res.body, { status: res.status, headers });
  }
  const bucket = c.env.MEDIA;
  const res = bucket ? await serveMedia(bucket, key, c.req.raw) : null;
  if (!res) throw notFound('No such media');
  return res;
});
