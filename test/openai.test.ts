// A migrating OpenAI user with the official `openai` SDK (7.57) pointed at the gateway (issue 11): uploads typed
// by their bytes, OpenAI model names, a stable Video object, list / delete / remix, image edits, replays that stay
// usable, clear answers for what is not served, and validation messages that say what a field must be.
import { env } from 'cloudflare:test';
import fc from 'fast-check';
import { metadataFlac, metadataMp3, REAL_JPEG, REAL_WEBP } from './fixtures/media-builders';
import OpenAI, { toFile } from 'openai';
import { describe, expect, inject, it } from 'vitest';
import { decodeJob } from '../src/jobs/id';
import { videoKey } from '../src/pipeline/videos';
import { parseConfig } from '../src/config';
import type { Env } from '../src/env';
import { falOrigin, gateway, PNG_BYTES, standinCalls, TEST_API_KEY, uniq, wavBytes, workerOrigin } from './helpers';

type Video = OpenAI.Videos.Video & { url?: string; cost_micro?: number; billed_seconds?: string; expires_at: number | null; remixed_from_video_id: string | null };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// The shared test key has a tight default limit (10 rpm); these tests use it more often than that.
const roomy = { TEST_KEY_RPM: '1000' };

async function finished(client: OpenAI, id: string): Promise<Video> {
  for (let i = 0; i < 60; i++) {
    const v = (await client.videos.retrieve(id)) as Video;
    if (v.status === 'completed' || v.status === 'failed') return v;
    await sleep(150);
  }
  throw new Error(`video ${id} never finished`);
}

async function apiError(p: Promise<unknown>): Promise<{ status: number; code: string; param: string | null; message: string; headers: Headers }> {
  const e = (await p.then(() => null, (err: unknown) => err)) as InstanceType<typeof OpenAI.APIError> | null;
  if (!e) throw new Error('expected the call to fail');
  const body = e.error as { code: string; param: string | null; message: string };
  return { status: e.status!, code: body.code, param: body.param, message: body.message, headers: e.headers as Headers };
}

/** A PNG of w x h (one colour; real zlib data via CompressionStream). */
async function pngOf(w: number, h: number): Promise<Uint8Array> {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (b: Uint8Array) => {
    let c = 0xffffffff;
    for (const x of b) c = crcTable[(c ^ x) & 0xff]! ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Uint8Array) => {
    const td = new Uint8Array(4 + data.length);
    td.set([...type].map((c) => c.charCodeAt(0)));
    td.set(data, 4);
    const out = new Uint8Array(12 + data.length);
    const v = new DataView(out.buffer);
    v.setUint32(0, data.length);
    out.set(td, 4);
    v.setUint32(8 + data.length, crc(td));
    return out;
  };
  const ihdr = new Uint8Array(13);
  new DataView(ihdr.buffer).setUint32(0, w);
  new DataView(ihdr.buffer).setUint32(4, h);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const raw = new Uint8Array((1 + w * 3) * h).fill(120);
  for (let y = 0; y < h; y++) raw[y * (1 + w * 3)] = 0;
  const idat = new Uint8Array(await new Response(new Blob([raw]).stream().pipeThrough(new CompressionStream('deflate'))).arrayBuffer());
  const parts = [Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', idat), chunk('IEND', new Uint8Array())];
  return new Uint8Array(await new Blob(parts).arrayBuffer());
}

const pngSize = (b: Uint8Array) => {
  const v = new DataView(b.buffer, b.byteOffset);
  return { width: v.getUint32(16), height: v.getUint32(20) };
};

// Minimal files of each accepted kind, recognisable by their first bytes only.
const bytes = (head: number[] | string, size = 64) => {
  const b = new Uint8Array(size);
  b.set(typeof head === 'string' ? [...head].map((c) => c.charCodeAt(0)) : head);
  return b;
};
// Real, well-formed files (metadata is stripped from inputs by rewriting their container, so stubs would be refused).
const JPEG = REAL_JPEG;
const WEBP = REAL_WEBP;
const MP3 = metadataMp3();
const M4A = bytes('\0\0\0\x20ftypM4A \0\0\0\0');
const FLAC = metadataFlac();
const OGG = bytes('OggS');

describe('uploads are typed by their bytes, whatever the client says', () => {
  it('PNG/JPEG/WebP images and WAV/MP3/M4A/FLAC/OGG audio sent as octet-stream, untyped toFile, or a misleading type', async () => {
    const gw = gateway({ ...roomy, MEDIA: undefined });
    const client = gw.openai(TEST_API_KEY, { maxRetries: 0 });
    const audios = [wavBytes(200), MP3, M4A, FLAC, OGG];
    const images = [PNG_BYTES, JPEG, WEBP];
    for (let i = 0; i < 5; i++) {
      const image = images[i % images.length]!;
      const audio = audios[i]!;
      // Untyped toFile (what fs.createReadStream and fs.openAsBlob become), and curl -F's octet-stream.
      const form = new FormData();
      form.set('prompt', uniq('typed by bytes'));
      form.set('input_reference', new Blob([image]), 'portrait');
      form.set('audio', new Blob([audio], { type: 'application/octet-stream' }), 'voice.bin');
      const res = await gw.authed(TEST_API_KEY, '/v1/videos', { method: 'POST', body: form });
      expect(res.status, await res.clone().text()).toBe(200);
      expect(((await res.json()) as Video).model).toBe('avatar');
    }
    // The SDK's toFile without a type, for an image edit.
    const edited = await client.images.edit({ image: await toFile(PNG_BYTES, 'x.png'), prompt: uniq('edit untyped') });
    expect(edited.data).toHaveLength(1);
    // A file that is none of them: named field, accepted types listed, 400 — never a 5xx.
    const form = new FormData();
    form.set('prompt', 'x');
    form.set('input_reference', new Blob([PNG_BYTES]), 'p.png');
    form.set('audio', new Blob([PNG_BYTES], { type: 'audio/wav' }), 'voice.wav');
    const bad = await gw.authed(TEST_API_KEY, '/v1/videos', { method: 'POST', body: form });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: unknown }).error).toMatchObject({
      code: 'invalid_request',
      param: 'audio',
      message: "'audio' must be WAV, MP3, M4A, FLAC or OGG audio of at most 6 MiB",
    });
    const e = await apiError(client.images.edit({ image: await toFile(wavBytes(10), 'a.png', { type: 'image/png' }), prompt: 'x' }));
    expect(e).toMatchObject({ status: 400, param: 'image', message: "'image' must be a PNG, JPEG or WebP image of at most 6 MiB" });
  });
});

describe('OpenAI model names', () => {
  it("OpenAI's image ids make krea-2 images, Sora makes wan video, and /v1/models resolves aliases", async () => {
    const gw = gateway({ MEDIA: undefined });
    const { key, account } = await gw.issueKey({ credits_micro: 2_000_000 });
    const client = gw.openai(key);
    for (const model of ['gpt-image-1', 'gpt-image-1-mini', 'dall-e-3', 'dall-e-2']) {
      const { response } = await client.images.generate({ model, prompt: uniq(model) }).withResponse();
      expect(response.headers.get('x-phi-cost-micro')).toBe('33000');
    }
    const video = await client.videos.create({ model: 'sora-2-pro', prompt: uniq('sora'), seconds: '4' });
    expect(video.model).toBe('wan');
    expect((await decodeJob(gw.env.SIGNING_SECRET!, video.id, account))!.e).toBe('fal-ai/krea-wan-14b/text-to-video');
    for (const [alias, id] of [['krea', 'krea-2'], ['bernini', 'wan'], ['infinitalk', 'avatar'], ['gpt-image-1', 'krea-2'], ['sora-2', 'wan']]) {
      expect(await client.models.retrieve(alias!)).toMatchObject({ id: alias, resolves_to: id });
    }
    expect(await client.models.retrieve('KREA-2')).toEqual({ id: 'krea-2', object: 'model', created: expect.any(Number), owned_by: 'phi-gateway' });
    const e = await apiError(client.models.retrieve('midjourney-7'));
    expect(e).toMatchObject({ status: 404, code: 'model_not_found', message: "The model 'midjourney-7' does not exist; available: krea-2, wan, avatar" });
    const g = await apiError(client.images.generate({ model: 'midjourney-7', prompt: 'x' }));
    expect(g).toMatchObject({ status: 404, code: 'model_not_found', param: 'model' });
    expect(g.message).toContain('available: krea-2, wan, avatar');
  });

  it('an operator extends the table with MODEL_ALIASES (exact names and trailing-* prefixes); a bad table is named', async () => {
    const gw = gateway({ MODEL_ALIASES: JSON.stringify({ 'house-image': 'krea-2', 'veo-*': 'wan', 'dall-e-3': 'krea-2' }) });
    const client = gw.openai('any');
    expect(await client.models.retrieve('house-image')).toMatchObject({ id: 'house-image', owned_by: 'operator', resolves_to: 'krea-2' });
    expect(await client.models.retrieve('veo-3-fast')).toMatchObject({ id: 'veo-3-fast', owned_by: 'operator', resolves_to: 'wan' });
    expect(await client.models.retrieve('gpt-image-1')).toMatchObject({ owned_by: 'openai', resolves_to: 'krea-2' }); // defaults stay
    expect(await client.models.retrieve('dall-e-3')).toMatchObject({ owned_by: 'openai', resolves_to: 'krea-2' }); // an OpenAI name, re-mapped
    const broken = await gateway({ MODEL_ALIASES: '{"x":"gpt-5"}' }).fetch('/v1/models');
    expect(broken.status).toBe(500);
    expect(((await broken.json()) as { error: { code: string; message: string } }).error).toMatchObject({ code: 'config_invalid' });
    expect(() => parseConfig({ ...(env as unknown as Env), MODEL_ALIASES: '[1]' })).toThrow(/MODEL_ALIASES/);
  });
});

describe('a stable Video object', () => {
  it('seconds is what is made, completed_at never moves, expires_at says when content stops, billed_seconds is the bill', async () => {
    const gw = gateway();
    const { key, account } = await gw.issueKey({ credits_micro: 1_000_000 });
    const client = gw.openai(key);
    const created = (await client.videos.create({ model: 'wan' as never, prompt: uniq('stable'), seconds: '4' })) as Video;
    // "4" is 66 frames at 16 fps on Krea-Wan (12k+6): planned 4.125 s, and the delivered file's own length once done.
    expect(created).toMatchObject({ seconds: '4.125', completed_at: null, expires_at: null, remixed_from_video_id: null, status: 'queued' });
    const done = await finished(client, created.id);
    expect(done).toMatchObject({ status: 'completed', seconds: '4.125', billed_seconds: '4.125', cost_micro: 363_000 });
    expect(done.expires_at).toBe(done.completed_at! + 24 * 3600); // MEDIA_RETENTION_HOURS (24 by default)
    await sleep(1_100); // a later second: a moving completed_at would show
    const again = (await client.videos.retrieve(created.id)) as Video;
    expect(again.completed_at).toBe(done.completed_at);
    expect(again.expires_at).toBe(done.expires_at);
    expect(again.created_at).toBe(created.created_at);
    expect((await gw.balance(account)).charges).toBe(1);
  });

  it('content that is not ready answers 409 video_not_ready (SDK: ConflictError), not not_found', async () => {
    const gw = gateway();
    const { key } = await gw.issueKey({ credits_micro: 1_000_000 });
    const client = gw.openai(key, { maxRetries: 0 });
    const { id } = await client.videos.create({ model: 'wan' as never, prompt: uniq('not yet') });
    const e = await apiError(client.videos.downloadContent(id));
    expect(e).toMatchObject({ status: 409, code: 'video_not_ready' });
    expect(e.headers.get('retry-after')).toBe('2');
    const missing = await apiError(client.videos.downloadContent('video_nope'));
    expect(missing).toMatchObject({ status: 404, code: 'not_found' });
  });
});

describe('replays stay usable', () => {
  it("an Idempotency-Key replay of a paid image re-signs its URLs (fresh exp), serving the same bytes, charging once", async () => {
    const gw = gateway();
    const { key, account } = await gw.issueKey({ credits_micro: 1_000_000 });
    const client = gw.openai(key);
    const body = { model: 'krea-2', prompt: uniq('replay'), n: 2 };
    const first = await client.images.generate(body, { headers: { 'Idempotency-Key': 'k-replay' } });
    await sleep(1_100);
    const { data: replay, response } = await client.images.generate(body, { headers: { 'Idempotency-Key': 'k-replay' } }).withResponse();
    expect(response.headers.get('idempotent-replayed')).toBe('true');
    expect(response.headers.get('x-phi-cost-micro')).toBe('0');
    for (let i = 0; i < 2; i++) {
      const [a, b] = [new URL(first.data![i]!.url!), new URL(replay.data![i]!.url!)];
      expect(b.pathname).toBe(a.pathname);
      expect(Number(b.searchParams.get('exp'))).toBeGreaterThan(Number(a.searchParams.get('exp')));
      const [x, y] = await Promise.all([a, b].map(async (u) => new Uint8Array(await (await gw.fetch(u.pathname + u.search)).arrayBuffer())));
      expect(y).toEqual(x);
    }
    expect(await gw.balance(account)).toMatchObject({ charges: 1, spent_micro: 66_000 });
  });
});

describe('list, delete, remix', () => {
  it('GET /v1/videos pages by after/limit/order, and the SDK auto-paginates every video once, newest first', async () => {
    const gw = gateway({ MEDIA: undefined });
    const { key } = await gw.issueKey({ credits_micro: 5_000_000, rpm: 600 });
    const client = gw.openai(key);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await client.videos.create({ model: 'wan' as never, prompt: uniq(`list ${i}`), seconds: '1' as never })).id);
      await sleep(1_001); // created_at is in seconds: distinct seconds make the expected order unambiguous
    }
    const page = await client.videos.list({ limit: 2 });
    expect(page.data.map((v) => v.id)).toEqual([ids[4], ids[3]]);
    expect(page.has_more).toBe(true);
    const raw = (await (await gw.authed(key, `/v1/videos?limit=2&after=${ids[3]}`)).json()) as { object: string; data: Video[]; first_id: string; last_id: string; has_more: boolean };
    expect(raw).toMatchObject({ object: 'list', first_id: ids[2], last_id: ids[1], has_more: true });
    const all: string[] = [];
    for await (const v of client.videos.list({ limit: 2 })) all.push(v.id);
    expect(all).toEqual([...ids].reverse());
    const asc: string[] = [];
    for await (const v of client.videos.list({ limit: 3, order: 'asc' })) asc.push(v.id);
    expect(asc).toEqual(ids);
    // Another account sees none of them, and cannot page from them.
    const other = await gw.issueKey({ credits_micro: 0 });
    expect((await gw.openai(other.key).videos.list()).data).toEqual([]);
    const e = await apiError(gw.openai(other.key).videos.list({ after: ids[0] }));
    expect(e).toMatchObject({ status: 400, param: 'after' });
    expect(await apiError(client.videos.list({ limit: 101 }))).toMatchObject({ status: 400, param: 'limit', message: "'limit' must be an integer from 1 to 100" });
    expect(await apiError(client.videos.list({ order: 'up' as never }))).toMatchObject({ status: 400, param: 'order', message: "'order' must be one of asc, desc" });
  });

  it('DELETE removes the re-hosted copy, refuses later content and polls, and is not listed; a running job is released unpaid', async () => {
    const gw = gateway();
    const { key, account } = await gw.issueKey({ credits_micro: 2_000_000 });
    const client = gw.openai(key, { maxRetries: 0 });
    const { id } = await client.videos.create({ model: 'wan' as never, prompt: uniq('delete me') });
    const done = await finished(client, id);
    const objectKey = await videoKey(parseConfig(gw.env), id, account);
    expect(await gw.env.MEDIA!.head(objectKey)).not.toBeNull();
    expect(await client.videos.delete(id)).toEqual({ id, object: 'video.deleted', deleted: true });
    expect(await gw.env.MEDIA!.head(objectKey)).toBeNull();
    expect(await apiError(client.videos.downloadContent(id))).toMatchObject({ status: 404 });
    expect(await apiError(client.videos.retrieve(id))).toMatchObject({ status: 404 });
    const signed = new URL(done.url!);
    expect((await gw.fetch(signed.pathname + signed.search)).status).toBe(404);
    expect((await client.videos.list()).data.map((v) => v.id)).not.toContain(id);
    expect(await apiError(client.videos.delete(id))).toMatchObject({ status: 404 });
    // Delivered before the delete: its charge stands. A job deleted while running costs nothing.
    expect(await gw.balance(account)).toMatchObject({ spent_micro: 363_000, held_micro: 0 });
    const running = await client.videos.create({ model: 'wan' as never, prompt: uniq('delete running') });
    expect((await gw.balance(account)).held_micro).toBe(363_000);
    await client.videos.delete(running.id);
    expect(await gw.balance(account)).toMatchObject({ spent_micro: 363_000, held_micro: 0, charges: 1 });
    await sleep(1_600);
    expect(await apiError(client.videos.retrieve(running.id))).toMatchObject({ status: 404 });
    expect((await gw.balance(account)).charges).toBe(1);
  });

  it("remix makes a new job with the original's model, seconds and size, charged anew, pointing back", async () => {
    const gw = gateway({ MEDIA: undefined });
    const { key, account } = await gw.issueKey({ credits_micro: 2_000_000 });
    const client = gw.openai(key, { maxRetries: 0 });
    const original = await client.videos.create({ model: 'wan' as never, prompt: uniq('original'), seconds: '2' as never, size: '720x1280' });
    await finished(client, original.id);
    const prompt = uniq('remixed');
    const remix = (await client.videos.remix(original.id, { prompt })) as Video;
    expect(remix).toMatchObject({ status: 'queued', model: 'wan', seconds: '1.875', size: '720x1280', remixed_from_video_id: original.id });
    expect(remix.id).not.toBe(original.id);
    const [submit] = await standinCalls(falOrigin(), (c) => c.method === 'POST' && (c.body as { prompt?: string })?.prompt === prompt);
    expect(submit!.path).toBe('/fal/queue/fal-ai/krea-wan-14b/text-to-video');
    const done = await finished(client, remix.id);
    expect(done).toMatchObject({ status: 'completed', remixed_from_video_id: original.id });
    const listed = (await client.videos.list()).data.find((v) => v.id === remix.id) as Video;
    expect(listed.remixed_from_video_id).toBe(original.id);
    expect(await gw.balance(account)).toMatchObject({ charges: 2, held_micro: 0 });
    expect(await apiError(client.videos.remix(original.id, { prompt: '' }))).toMatchObject({ status: 400, param: 'prompt' });
    expect(await apiError(client.videos.remix('video_nope', { prompt: 'x' }))).toMatchObject({ status: 404 });
  });

  it('a video made from an uploaded portrait cannot be remixed (its files are not kept): a 400 that says why', async () => {
    const gw = gateway({ MEDIA: undefined, ...roomy });
    const client = gw.openai(TEST_API_KEY, { maxRetries: 0 });
    const v = await client.videos.create({ prompt: uniq('i2v'), input_reference: await toFile(PNG_BYTES, 'p.png') });
    const e = await apiError(client.videos.remix(v.id, { prompt: 'again' }));
    expect(e).toMatchObject({ status: 400, param: 'id' });
    expect(e.message).toContain('cannot be remixed');
  });
});

describe('image edits', () => {
  it('paid: FLUX Krea image-to-image on fal with the image inline, billed like a generation, output the input size', async () => {
    const gw = gateway({ MEDIA: undefined });
    const { key, account } = await gw.issueKey({ credits_micro: 1_000_000 });
    const client = gw.openai(key);
    const prompt = uniq('make the walls sage green');
    const input = await pngOf(96, 64);
    const { data, response } = await client.images.edit({ model: 'gpt-image-1', image: await toFile(input, 'room.png'), prompt, n: 2 }).withResponse();
    expect(response.headers.get('x-phi-cost-micro')).toBe('66000');
    expect(response.headers.get('x-phi-tier')).toBe('non_phi');
    expect(data.data).toHaveLength(2);
    const [call] = await standinCalls(falOrigin(), (c) => (c.body as { prompt?: string })?.prompt === prompt);
    expect(call!.path).toBe('/fal/run/fal-ai/flux-1/krea/image-to-image');
    expect(call!.body).toMatchObject({ prompt, num_images: 2 });
    expect((call!.body as { image_url: string }).image_url).toMatch(/^data:image\/png;base64,/);
    // gpt-image-* names answer b64_json, as OpenAI does (issue 19)
    const out = Uint8Array.from(atob(data.data![0]!.b64_json!), (c) => c.charCodeAt(0));
    expect(pngSize(out)).toEqual({ width: 96, height: 64 });
    expect(await gw.balance(account)).toMatchObject({ spent_micro: 66_000, charges: 1 });
  });

  it('test key: the Krea 2 image-to-image workflow on the worker, $0, served through a signed gateway URL', async () => {
    const gw = gateway({ ...roomy, MEDIA: undefined });
    const client = gw.openai(TEST_API_KEY);
    const prompt = uniq('soft morning light');
    const { data, response } = await client.images.edit({ image: await toFile(await pngOf(32, 32), 'in.png'), prompt, size: '512x512' }).withResponse();
    expect(response.headers.get('x-phi-cost-micro')).toBe('0');
    const url = new URL(data.data![0]!.url!);
    expect(url.pathname).toMatch(/^\/v1\/media\//);
    const out = new Uint8Array(await (await gw.fetch(url.pathname + url.search)).arrayBuffer());
    expect(pngSize(out)).toEqual({ width: 512, height: 512 });
    const [upload] = await standinCalls(workerOrigin(), (c) => c.path.endsWith('/upload/image') && c.at >= Date.now() - 10_000);
    expect(upload).toBeDefined();
    const [prompted] = await standinCalls(workerOrigin(), (c) => c.path.endsWith('/prompt') && JSON.stringify(c.body).includes(prompt));
    const classes = Object.values((prompted!.body as { prompt: Record<string, { class_type: string }> }).prompt).map((n) => n.class_type);
    expect(classes).toEqual(expect.arrayContaining(['LoadImage', 'VAEEncode', 'KSampler', 'SaveImage']));
    expect(classes).not.toContain('EmptySD3LatentImage');
  });

  it('PHI, no image, 17 images, a mask or a JSON body: refused before any upstream call or charge', async () => {
    const gw = gateway({ MEDIA: undefined });
    const { key, account } = await gw.issueKey({ credits_micro: 1_000_000 });
    const client = gw.openai(key, { maxRetries: 0 });
    const prompt = uniq('refused edit');
    const phi = await apiError(client.images.edit({ image: await toFile(PNG_BYTES, 'a.png'), prompt }, { headers: { 'X-PHI': 'true' } }));
    expect(phi).toMatchObject({ status: 403, code: 'phi_blocked' });
    // up to 16 images are served (test/openai-images.test.ts); more is a 400
    const seventeen = await Promise.all(Array.from({ length: 17 }, (_, i) => toFile(PNG_BYTES, `p${i}.png`)));
    expect(await apiError(client.images.edit({ image: seventeen, prompt }))).toMatchObject({ status: 400, param: 'image' });
    expect(await apiError(client.images.edit({ image: await toFile(PNG_BYTES, 'a.png'), mask: await toFile(PNG_BYTES, 'm.png'), prompt }))).toMatchObject({ status: 400, param: 'mask' });
    const json = await gw.authed(key, '/v1/images/edits', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt }) });
    expect(json.status).toBe(400);
    const noImage = new FormData();
    noImage.set('prompt', prompt);
    expect((await gw.authed(key, '/v1/images/edits', { method: 'POST', body: noImage })).status).toBe(400);
    expect(await standinCalls(falOrigin(), (c) => JSON.stringify(c.body ?? '').includes(prompt))).toEqual([]);
    expect(await gw.balance(account)).toMatchObject({ spent_micro: 0, charges: 0 });
  });
});

describe('clear answers for what is not here', () => {
  it.each([
    ['POST', '/v1/chat/completions'],
    ['POST', '/v1/responses'],
    ['POST', '/v1/embeddings'],
    ['POST', '/v1/audio/speech'],
    ['POST', '/v1/audio/transcriptions'],
    ['POST', '/v1/images/variations'],
    ['POST', '/v1/videos/edits'],
    ['POST', '/v1/videos/extensions'],
    ['GET', '/v1/files'],
  ])('%s %s → 404 unsupported_endpoint naming what is served', async (method, path) => {
    const res = await gateway().authed('any', path, { method, ...(method === 'POST' && { body: '{}', headers: { 'content-type': 'application/json' } }) });
    expect(res.status).toBe(404);
    const { error } = (await res.json()) as { error: { code: string; message: string } };
    expect(error.code).toBe('unsupported_endpoint');
    expect(error.message).toContain('POST /v1/images/generations');
    expect(error.message).toContain('POST /v1/videos');
    expect(res.headers.get('x-request-id')).toMatch(/^req_/);
  });

  it('the SDK gets a NotFoundError for chat, embeddings and variations', async () => {
    const client = gateway().openai('any', { maxRetries: 0 });
    for (const call of [
      () => client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
      () => client.embeddings.create({ model: 'text-embedding-3-small', input: 'hi' }),
      async () => client.images.createVariation({ image: await toFile(PNG_BYTES, 'a.png') }),
    ]) {
      const e = await apiError(call());
      expect(e).toMatchObject({ status: 404, code: 'unsupported_endpoint' });
    }
  });

  it('a wrong method on a served path → 405 with allow', async () => {
    const gw = gateway();
    const { key } = await gw.issueKey({ credits_micro: 0 });
    for (const [method, path, allow] of [
      ['GET', '/v1/images/generations', 'POST'],
      ['PUT', '/v1/videos', 'GET, HEAD, POST'],
      ['PATCH', '/v1/videos/video_x', 'DELETE, GET, HEAD'],
      ['GET', '/v1/videos/video_x/remix', 'POST'],
    ] as const) {
      const res = await gw.authed(key, path, { method });
      expect(res.status, `${method} ${path}`).toBe(405);
      expect(res.headers.get('allow')).toBe(allow);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('method_not_allowed');
    }
  });
});

describe('validation messages say what the field must be', () => {
  it.each([
    [{ prompt: 'x', n: 'two' }, 'n', "'n' must be an integer from 1 to 4"],
    [{ prompt: 'x', n: 9 }, 'n', "'n' must be an integer from 1 to 4"],
    [{ prompt: 'x', n: 1.5 }, 'n', "'n' must be an integer from 1 to 4"],
    [{ prompt: 7 }, 'prompt', "'prompt' must be a string"],
    [{}, 'prompt', "'prompt' is required"],
    [{ prompt: '   ' }, 'prompt', "'prompt' must not be empty"],
    [{ prompt: 'x'.repeat(4001) }, 'prompt', "'prompt' must be at most 4000 characters"],
    [{ prompt: 'x', response_format: 'png' }, 'response_format', "'response_format' must be one of url, b64_json"],
    [{ prompt: 'x', output_format: 'gif' }, 'output_format', "'output_format' must be one of png, jpeg"],
  ])('images %j → %s', async (body, param, message) => {
    const gw = gateway();
    const { key } = await gw.issueKey({ credits_micro: 0 });
    const res = await gw.authed(key, '/v1/images/generations', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: unknown }).error).toMatchObject({ code: 'invalid_request', param, message });
  });

  it('property: any present value that is not an integer 1-4 gets the same message for n; only absence reads "is required"', async () => {
    const { seed, runs } = inject('fuzz');
    const gw = gateway();
    const { key } = await gw.issueKey({ credits_micro: 0 });
    const notN = fc.oneof(
      fc.integer().filter((v) => v < 1 || v > 4),
      fc.double({ noNaN: true }).filter((v) => !Number.isInteger(v)),
      fc.string().filter((v) => !(/^\s*-?\d+(\.\d+)?\s*$/.test(v) && [1, 2, 3, 4].includes(Number(v)))),
      fc.boolean(),
      fc.array(fc.integer(), { maxLength: 3 }),
      fc.dictionary(fc.string({ maxLength: 4 }), fc.integer(), { maxKeys: 2 }),
    );
    await fc.assert(
      fc.asyncProperty(notN, async (n) => {
        const res = await gw.authed(key, '/v1/images/generations', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: 'x', n }) });
        expect(res.status).toBe(400);
        expect(((await res.json()) as { error: unknown }).error).toMatchObject({ param: 'n', message: "'n' must be an integer from 1 to 4" });
      }),
      { seed, numRuns: Math.min(runs, 60), endOnFailure: true },
    );
  });

  it('operator API: tier and credits say their allowed values', async () => {
    const gw = gateway();
    const tier = await gw.admin('/admin/keys', { method: 'POST', body: JSON.stringify({ tier: 'gold' }) });
    expect(((await tier.json()) as { error: unknown }).error).toMatchObject({ param: 'tier', message: "'tier' must be one of paid, test" });
    const credits = await gw.admin('/admin/keys', { method: 'POST', body: JSON.stringify({ tier: 'paid', credits_micro: 'lots' }) });
    expect(((await credits.json()) as { error: { param: string; message: string } }).error.message).toMatch(/^'credits_micro' must be an integer/);
  });
});

describe('ids fit ordinary columns', () => {
  it('video ids are opaque, at most 255 characters, and carry no readable account or upstream id', async () => {
    const gw = gateway({ MEDIA: undefined, ...roomy });
    const { key, account } = await gw.issueKey({ account: uniq('acct-with-a-long-name-for-the-test'), credits_micro: 10_000_000 });
    const made: string[] = [];
    const client = gw.openai(key);
    made.push((await client.videos.create({ model: 'wan' as never, prompt: uniq('id'), seconds: '10' as never, size: '1920x1088' as never })).id);
    made.push((await client.videos.create({ model: 'avatar' as never, prompt: uniq('id'), seconds: '28', input_reference: await toFile(PNG_BYTES, 'p.png'), audio: await toFile(wavBytes(100), 'v.wav') } as never)).id);
    made.push((await gw.openai(TEST_API_KEY).videos.create({ prompt: uniq('id'), input_reference: await toFile(PNG_BYTES, 'p.png') })).id);
    for (const id of made) {
      expect(id.length).toBeLessThanOrEqual(255);
      expect(id).toMatch(/^video_[A-Za-z0-9_-]+$/);
      const decoded = atob(id.slice(6).replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - ((id.length - 6) % 4)) % 4));
      expect(decoded).not.toContain(account);
      expect(decoded).not.toContain('fal-ai');
    }
  });
});

describe('the free key has its own limit: TEST_KEY_RPM', () => {
  it('over TEST_KEY_RPM → 429 with retry-after and the limit in the message', async () => {
    const gw = gateway({ TEST_KEY_RPM: '2', MEDIA: undefined });
    const client = gw.openai(TEST_API_KEY, { maxRetries: 0 });
    let limited: Response | null = null;
    for (let i = 0; i < 4 && !limited; i++) {
      const res = await gw.authed(TEST_API_KEY, '/v1/images/generations', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: uniq('rpm') }) });
      if (res.status === 429) limited = res;
      else expect(res.status).toBe(200);
    }
    expect(limited?.status).toBe(429);
    const { error } = (await limited!.json()) as { error: { code: string; message: string } };
    expect(error.code).toBe('rate_limit_exceeded');
    expect(error.message).toContain('(2 requests per minute)');
    expect(Number(limited!.headers.get('retry-after'))).toBeGreaterThan(0);
    // The SDK retries a 429 after retry-after (twice by default): with maxRetries 0 it surfaces at once.
    expect(await apiError(client.images.generate({ prompt: uniq('rpm') }))).toMatchObject({ status: 429, code: 'rate_limit_exceeded' });
    const account = (await (await gw.authed(TEST_API_KEY, '/v1/account')).json()) as { rate_limit: { rpm: number } };
    expect(account.rate_limit.rpm).toBe(2);
  });
});

