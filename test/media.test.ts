import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { getConfig } from '../src/config';
import { signMediaPath } from '../src/media/sign';
import { falOrigin, gateway, standinCalls, uniq, type Gateway } from './helpers';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const bytesOf = async (res: Response) => new Uint8Array(await res.arrayBuffer());
const post = (gw: Gateway, key: string, path: string, body: unknown) =>
  gw.authed(key, path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

/** The fal CDN file the gateway downloaded while re-hosting (the stand-in records it). */
async function upstreamFileFor(after: number, ext: string): Promise<string> {
  const calls = await standinCalls(falOrigin(), (c) => c.method === 'GET' && c.path.startsWith('/files/') && c.path.endsWith(ext) && c.at >= after);
  return `${falOrigin()}${calls[0]!.path}`;
}

async function imageUrl(gw: Gateway, key: string, prompt = uniq('media')) {
  const res = await post(gw, key, '/v1/images/generations', { prompt });
  expect(res.status).toBe(200);
  return ((await res.json()) as { data: { url: string }[] }).data[0]!.url;
}

async function finishedVideo(gw: Gateway, key: string): Promise<string> {
  const res = await post(gw, key, '/v1/videos', { prompt: uniq('media video'), seconds: 2 });
  const { id } = (await res.json()) as { id: string };
  await sleep(1_600);
  return id;
}

describe('R2 re-hosting behind signed /v1/media URLs', () => {
  it('an image is re-hosted byte-identical, with metadata, and fal was asked for short CDN retention', async () => {
    const gw = gateway();
    const { key, account } = await gw.issueKey({ credits_micro: 100_000 });
    const t0 = Date.now();
    const prompt = uniq('rehost');
    const url = await imageUrl(gw, key, prompt);
    const served = await gw.fetch(url);
    expect(served.status).toBe(200);
    expect(served.headers.get('cache-control')).toBe('private, max-age=0');
    expect(served.headers.get('accept-ranges')).toBe('bytes');
    expect(served.headers.get('etag')).toMatch(/^".+"$/);
    const mine = await bytesOf(served);
    expect(Number(served.headers.get('content-length'))).toBe(mine.length);
    expect(mine).toEqual(await bytesOf(await fetch(await upstreamFileFor(t0, '.png'))));
    const objectKey = new URL(url).pathname.split('/').pop()!;
    const head = await env.MEDIA!.head(objectKey);
    expect(head!.customMetadata).toEqual({ account, size: String(mine.length), expires: expect.stringMatching(/^\d+$/) });
    expect(head!.httpMetadata!.contentType).toBe('image/png');
    const [run] = await standinCalls(falOrigin(), (c) => (c.body as { prompt?: string })?.prompt === prompt);
    expect(JSON.parse(run!.headers['x-fal-object-lifecycle-preference']!)).toEqual({ expiration_duration_seconds: 3600 });
    expect(run!.headers['x-fal-store-io']).toBe('0');
  });

  it('no lifecycle header when re-hosting is off (MEDIA unbound)', async () => {
    const gw = gateway({ MEDIA: undefined });
    const { key } = await gw.issueKey({ credits_micro: 100_000 });
    const prompt = uniq('nolife');
    await imageUrl(gw, key, prompt);
    const [run] = await standinCalls(falOrigin(), (c) => (c.body as { prompt?: string })?.prompt === prompt);
    expect(run!.headers['x-fal-object-lifecycle-preference']).toBeUndefined();
    expect(run!.headers['x-fal-store-io']).toBe('0');
  });

  it('Range → 206 (prefix, open-ended, suffix), bad range → 416, If-None-Match → 304', async () => {
    const gw = gateway();
    const { key } = await gw.issueKey({ credits_micro: 100_000 });
    const url = await imageUrl(gw, key);
    const full = await bytesOf(await gw.fetch(url));
    const part = await gw.fetch(url, { headers: { range: 'bytes=0-9' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 0-9/${full.length}`);
    expect(part.headers.get('content-length')).toBe('10');
    expect(await bytesOf(part)).toEqual(full.slice(0, 10));
    const open = await gw.fetch(url, { headers: { range: 'bytes=20-' } });
    expect(await bytesOf(open)).toEqual(full.slice(20));
    const suffix = await gw.fetch(url, { headers: { range: 'bytes=-5' } });
    expect(suffix.headers.get('content-range')).toBe(`bytes ${full.length - 5}-${full.length - 1}/${full.length}`);
    expect(await bytesOf(suffix)).toEqual(full.slice(-5));
    expect((await gw.fetch(url, { headers: { range: `bytes=${full.length}-` } })).status).toBe(416);
    const etag = (await gw.fetch(url)).headers.get('etag')!;
    const cached = await gw.fetch(url, { headers: { 'if-none-match': etag } });
    expect(cached.status).toBe(304);
    expect(await cached.text()).toBe('');
  });

  it('tampering with any URL part → 403 invalid_signature; an expired URL → 403 link_expired; missing object → 404', async () => {
    const gw = gateway();
    const { key } = await gw.issueKey({ credits_micro: 100_000 });
    const url = new URL(await imageUrl(gw, key));
    const objectKey = url.pathname.split('/').pop()!;
    const exp = url.searchParams.get('exp')!;
    const sig = url.searchParams.get('sig')!;
    const flip = (s: string) => (s[0] === 'A' ? 'B' : 'A') + s.slice(1);
    const variants = [
      `/v1/media/${flip(objectKey)}?exp=${exp}&sig=${sig}`,
      `/v1/media/${objectKey}?exp=${Number(exp) + 1}&sig=${sig}`,
      `/v1/media/${objectKey}?exp=${exp}&sig=${flip(sig)}`,
      `/v1/media/${objectKey}?exp=${exp}&sig=${sig.slice(0, -2)}`,
      `/v1/media/${objectKey}?exp=${exp}`,
      `/v1/media/${objectKey}?sig=${sig}`,
      `/v1/media/${objectKey}`,
      `/v1/media/${objectKey}?exp=abc&sig=${sig}`,
    ];
    for (const v of variants) {
      const res = await gw.fetch(v);
      expect(res.status, v).toBe(403);
      expect(await res.json()).toMatchObject({ error: { code: 'invalid_signature' } });
    }
    const cfg = getConfig(gw.env);
    const stale = await signMediaPath(cfg, objectKey, Date.now() - (cfg.MEDIA_URL_TTL_SECONDS + 5) * 1000);
    const expired = await gw.fetch(stale);
    expect(expired.status).toBe(403);
    expect(await expired.json()).toMatchObject({ error: { code: 'link_expired' } });
    const missing = await gw.fetch(await signMediaPath(cfg, 'i_doesnotexist.png'));
    expect(missing.status).toBe(404);
  });

  it('MEDIA_URL_TTL_SECONDS sets the URL lifetime', async () => {
    const gw = gateway({ MEDIA_URL_TTL_SECONDS: '60' });
    const { key } = await gw.issueKey({ credits_micro: 100_000 });
    const exp = Number(new URL(await imageUrl(gw, key)).searchParams.get('exp'));
    const now = Math.floor(Date.now() / 1000);
    expect(exp - now).toBeGreaterThanOrEqual(59);
    expect(exp - now).toBeLessThanOrEqual(60);
  });

  it('a finished video is re-hosted once under concurrent polls, byte-identical, every poll re-signs the same object', async () => {
    const gw = gateway();
    const { key, account } = await gw.issueKey({ credits_micro: 1_000_000, rpm: 100 });
    const t0 = Date.now();
    const id = await finishedVideo(gw, key);
    const polls = await Promise.all(Array.from({ length: 20 }, () => gw.authed(key, `/v1/videos/${id}`)));
    const urls = ((await Promise.all(polls.map((p) => p.json()))) as { status: string; url: string }[]).map((v) => {
      expect(v.status).toBe('completed');
      return new URL(v.url);
    });
    const keys = new Set(urls.map((u) => u.pathname));
    expect(keys.size).toBe(1);
    const objectKey = [...keys][0]!.split('/').pop()!;
    expect(objectKey).toMatch(/^v_[0-9a-f]{16}_[0-9a-f]{32}\.mp4$/);
    const listed = await env.MEDIA!.list({ prefix: objectKey });
    expect(listed.objects).toHaveLength(1);
    const served = await bytesOf(await gw.fetch(urls[0]!.pathname + urls[0]!.search));
    expect(served).toEqual(await bytesOf(await fetch(await upstreamFileFor(t0, '.mp4'))));
    const content = await gw.authed(key, `/v1/videos/${id}/content`, { headers: { range: 'bytes=0-7' } });
    expect(content.status).toBe(206);
    expect(await bytesOf(content)).toEqual(served.slice(0, 8));
    expect((await gw.balance(account)).charges).toBe(1);
  });

  it('re-host failure: no public URL, nothing charged, and a later poll still bills once', async () => {
    const broken = {
      head: async () => null,
      put: async () => {
        throw new Error('R2 is down');
      },
    } as unknown as R2Bucket;
    const gw = gateway({ MEDIA: broken });
    const { key, account } = await gw.issueKey({ credits_micro: 1_000_000, rpm: 100 });
    const img = await post(gw, key, '/v1/images/generations', { prompt: uniq('broken r2') });
    expect(img.status).toBe(502);
    const body = await img.text();
    expect(body).not.toContain(falOrigin());
    expect(await gw.balance(account)).toMatchObject({ balance_micro: 1_000_000, held_micro: 0 });

    const id = await finishedVideo(gw, key);
    const failedPoll = await gw.authed(key, `/v1/videos/${id}`);
    expect(failedPoll.status).toBe(502);
    expect(await failedPoll.text()).not.toContain(falOrigin());
    expect(await gw.balance(account)).toMatchObject({ balance_micro: 1_000_000, charges: 0 });
    const healthy = gateway();
    const ok = await healthy.authed(key, `/v1/videos/${id}`);
    expect(((await ok.json()) as { status: string }).status).toBe('completed');
    expect(await gw.balance(account)).toMatchObject({ charges: 1, held_micro: 0 });
  });
});
