import { describe, expect, it } from 'vitest';
import { decodeJob } from '../src/jobs/id';
import { falOrigin, gateway, PNG_BYTES, standinCalls, uniq, wavBytes, workerOrigin, type Gateway } from './helpers';

type Video = { id: string; object: string; status: string; progress: number; seconds: string; model: string; size: string; error: { code: string; message: string } | null; url?: string; cost_micro?: number; completed_at: number | null };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const isMp4 = (b: Uint8Array) => String.fromCharCode(...b.slice(4, 8)) === 'ftyp';
const falSubmits = (prompt: string) => standinCalls(falOrigin(), (c) => c.method === 'POST' && (c.body as { prompt?: string })?.prompt === prompt);

async function enqueue(gw: Gateway, key: string, body: Record<string, unknown>, path = '/v1/videos/generations', headers: Record<string, string> = {}) {
  return gw.authed(key, path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
}

async function pollUntilDone(gw: Gateway, key: string, id: string): Promise<{ video: Video; res: Response }> {
  for (let i = 0; i < 40; i++) {
    const res = await gw.authed(key, `/v1/videos/${id}`);
    const video = (await res.json()) as Video;
    if (video.status !== 'queued' && video.status !== 'in_progress') return { video, res };
    expect(res.headers.get('openai-poll-after-ms')).toBe('2000');
    await sleep(200);
  }
  throw new Error('video never finished');
}

describe('video: paid key → fal queue', () => {
  it('openai SDK: videos.create (multipart) → retrieve until completed → downloadContent; bills once', async () => {
    const gw = gateway({ MEDIA: undefined });
    const { key, account } = await gw.issueKey({ credits_micro: 1_000_000 });
    const client = gw.openai(key);
    const prompt = uniq('a slow pan across a sunny clinic lobby');
    const created = await client.videos.create({ prompt, model: 'wan' as never, seconds: '4', size: '1280x720' });
    // seconds: what is made ("4" → 66 frames at 16 fps); size: the asked one until the file says otherwise.
    expect(created).toMatchObject({ object: 'video', status: 'queued', model: 'wan', seconds: '4.125', size: '1280x720', progress: 0, error: null });
    expect(created.id).toMatch(/^video_[A-Za-z0-9_-]+$/);
    expect(await gw.balance(account)).toMatchObject({ balance_micro: 1_000_000, held_micro: 363_000 });

    const [submit] = await falSubmits(prompt);
    expect(submit!.path).toBe('/fal/queue/fal-ai/krea-wan-14b/text-to-video');
    expect(submit!.headers['x-fal-store-io']).toBe('0');
    expect(submit!.body).toMatchObject({ prompt, num_frames: 66 });

    let video = await client.videos.retrieve(created.id);
    const seen = new Set([video.status]);
    while (video.status === 'queued' || video.status === 'in_progress') {
      await sleep(100);
      video = await client.videos.retrieve(created.id);
      seen.add(video.status);
    }
    expect(video.status).toBe('completed');
    expect(seen.has('in_progress') || seen.has('queued')).toBe(true);
    expect((video as unknown as Video).cost_micro).toBe(363_000);
    expect(await gw.balance(account)).toMatchObject({ balance_micro: 637_000, held_micro: 0, charges: 1 });

    const content = await client.videos.downloadContent(created.id);
    const bytes = new Uint8Array(await content.arrayBuffer());
    expect(isMp4(bytes)).toBe(true);
    const direct = new Uint8Array(await (await fetch((video as unknown as Video).url!)).arrayBuffer());
    expect(bytes).toEqual(direct);
    // Polling again never charges again.
    await client.videos.retrieve(created.id);
    expect((await gw.balance(account)).charges).toBe(1);

    // Status and result were fetched at the owner/alias path rebuilt from config.
    const job = (await decodeJob(gw.env.SIGNING_SECRET!, created.id, account))!;
    const status = await standinCalls(falOrigin(), (c) => c.path.includes(`/requests/${job.r}`));
    expect(status.length).toBeGreaterThanOrEqual(3);
    expect(status.every((c) => c.path.startsWith('/fal/queue/fal-ai/krea-wan-14b/requests/'))).toBe(true);
    expect(job).toMatchObject({ m: 'wan', p: 'fal', e: 'fal-ai/krea-wan-14b/text-to-video', a: account, u: 88_000, f: 66, fps: 16 });
  });

  it('a first download that settles the bill reports the charge; later downloads move nothing', async () => {
    for (const media of [undefined, 'bound'] as const) {
      const gw = media ? gateway() : gateway({ MEDIA: undefined });
      const { key, account } = await gw.issueKey({ credits_micro: 1_000_000 });
      const { id } = (await (await enqueue(gw, key, { prompt: uniq('download first') })).json()) as Video;
      await sleep(1_600);
      const first = await gw.authed(key, `/v1/videos/${id}/content`);
      expect(first.status).toBe(200);
      expect(first.headers.get('x-phi-cost-micro')).toBe('363000');
      expect(first.headers.get('x-phi-tier')).toBe('non_phi');
      expect(isMp4(new Uint8Array(await first.arrayBuffer()))).toBe(true);
      const again = await gw.authed(key, `/v1/videos/${id}/content`);
      expect(again.headers.get('x-phi-cost-micro')).toBe('0');
      expect(await gw.balance(account)).toMatchObject({ balance_micro: 637_000, charges: 1, held_micro: 0 });
    }
  });

  it('50 concurrent polls of a just-completed job → exactly one charge', async () => {
    const gw = gateway({ MEDIA: undefined });
    const { key, account } = await gw.issueKey({ credits_micro: 1_000_000, rpm: 100 });
    const res = await enqueue(gw, key, { prompt: uniq('race poll'), seconds: 8 });
    const { id } = (await res.json()) as Video;
    await sleep(1_600); // the stand-in completes the job after 1.5 s
    const polls = await Promise.all(Array.from({ length: 50 }, () => gw.authed(key, `/v1/videos/${id}`)));
    const bodies = (await Promise.all(polls.map((p) => p.json()))) as Video[];
    expect(bodies.every((b) => b.status === 'completed')).toBe(true);
    const charged = polls.map((p) => Number(p.headers.get('x-phi-cost-micro'))).filter((n) => n > 0);
    expect(charged).toEqual([693_000]); // 126 frames @16 fps × 88000
    expect(await gw.balance(account)).toMatchObject({ balance_micro: 307_000, held_micro: 0, charges: 1, spent_micro: 693_000 });
  });

  it('concurrent enqueues against a balance for only some: holds never overspend', async () => {
    const gw = gateway();
    const { key, account } = await gw.issueKey({ credits_micro: 3 * 363_000 + 1, rpm: 100 });
    const prompt = uniq('race enqueue');
    const results = await Promise.all(Array.from({ length: 8 }, () => enqueue(gw, key, { prompt, seconds: '4' })));
    expect(results.map((r) => r.status).sort()).toEqual([200, 200, 200, 402, 402, 402, 402, 402]);
    expect(await falSubmits(prompt)).toHaveLength(3);
    expect(await gw.balance(account)).toMatchObject({ balance_micro: 1_089_001, held_micro: 1_089_000, available_micro: 1 });
  });

  it('a failed fal job (COMPLETED + error result) → failed, nothing charged, hold released', async () => {
    const gw = gateway();
    const { key, account } = await gw.issueKey({ credits_micro: 1_000_000 });
    const res = await enqueue(gw, key, { prompt: `${uniq('doomed')} #fal-job-fail` });
    const { id } = (await res.json()) as Video;
    expect((await gw.balance(account)).held_micro).toBe(363_000);
    const { video, res: last } = await pollUntilDone(gw, key, id);
    expect(video.status).toBe('failed');
    expect(video.error).toMatchObject({ code: 'generation_failed', message: expect.any(String) });
    expect(last.headers.get('x-phi-cost-micro')).toBe('0');
    expect(await gw.balance(account)).toMatchObject({ balance_micro: 1_000_000, held_micro: 0, charges: 0 });
    const content = await gw.authed(key, `/v1/videos/${id}/content`);
    expect(content.status).toBe(409);
    expect(content.headers.get('x-should-retry')).toBe('false');
    expect(await content.json()).toMatchObject({ error: { code: 'video_not_ready' } });
  });

  it('a rejected submit (422) → 400 and the hold is released; 402 with no upstream call', async () => {
    const gw = gateway();
    const { key, account } = await gw.issueKey({ credits_micro: 400_000 });
    const bad = await enqueue(gw, key, { prompt: `${uniq('bad')} #fal-422` });
    expect(bad.status).toBe(400);
    expect(await gw.balance(account)).toMatchObject({ held_micro: 0, balance_micro: 400_000 });
    const prompt = uniq('pricey');
    const poor = await enqueue(gw, key, { prompt, seconds: 8 });
    expect(poor.status).toBe(402);
    expect(await falSubmits(prompt)).toHaveLength(0);
  });

  it('tampered and foreign ids → 404 not_found', async () => {
    const gw = gateway();
    const a = await gw.issueKey({ credits_micro: 1_000_000 });
    const b = await gw.issueKey({ credits_micro: 1_000_000 });
    const { id } = (await (await enqueue(gw, a.key, { prompt: uniq('mine') })).json()) as Video;
    const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
    for (const bad of [flip(id, 10), flip(id, id.length - 3), id.slice(0, -1), 'video_', 'video_abc', `${id}x`]) {
      const res = await gw.authed(a.key, `/v1/videos/${bad}`);
      expect(res.status).toBe(404);
      expect(await res.json()).toMatchObject({ error: { code: 'not_found' } });
    }
    expect((await gw.authed(b.key, `/v1/videos/${id}`)).status).toBe(404);
    expect((await gw.authed(b.key, `/v1/videos/${id}/content`)).status).toBe(404);
    expect((await gw.authed(a.key, `/v1/videos/${id}`)).status).toBe(200);
  });

  // URL inputs reach fal as URLs only with PHI screening off (screening fetches, checks and strips them itself).
  it('audio with no model routes to avatar (InfiniTalk) at 220000/s', async () => {
    const gw = gateway({ PHI_SCAN: 'off' });
    const { key, account } = await gw.issueKey({ credits_micro: 2_000_000 });
    const prompt = uniq('a friendly nurse explains check-in');
    const res = await enqueue(gw, key, { prompt, image_url: 'https://example.com/portrait.png', audio_url: 'https://example.com/voice.wav', seconds: 4 }, '/v1/videos');
    expect(res.status).toBe(200);
    const video = (await res.json()) as Video;
    expect(video).toMatchObject({ model: 'avatar', seconds: '4.04' });
    const [submit] = await falSubmits(prompt);
    expect(submit!.path).toBe('/fal/queue/fal-ai/infinitalk');
    expect(submit!.body).toMatchObject({ image_url: 'https://example.com/portrait.png', audio_url: 'https://example.com/voice.wav', num_frames: 101 });
    expect((await gw.balance(account)).held_micro).toBe(888_800);
    const done = await pollUntilDone(gw, key, video.id);
    expect(done.video.cost_micro).toBe(888_800);
    expect((await gw.balance(account)).balance_micro).toBe(2_000_000 - 888_800);
  });

  it('bills the delivered duration when the video is shorter than asked (avatar audio ran out)', async () => {
    for (const media of [undefined, 'bound'] as const) {
      const gw = media ? gateway({ PHI_SCAN: 'off' }) : gateway({ MEDIA: undefined, PHI_SCAN: 'off' });
      const { key, account } = await gw.issueKey({ credits_micro: 2_000_000 });
      const body = { prompt: `${uniq('short')} #fal-short-audio`, image_url: 'https://example.com/p.png', audio_url: 'https://example.com/a.wav', seconds: 4 };
      const { id } = (await (await enqueue(gw, key, body)).json()) as Video;
      expect((await gw.balance(account)).held_micro).toBe(888_800);
      const { video } = await pollUntilDone(gw, key, id);
      expect(video.cost_micro).toBe(440_000); // 2.000 s delivered × 220000
      expect(await gw.balance(account)).toMatchObject({ balance_micro: 1_560_000, held_micro: 0, charges: 1 });
    }
  });

  it('an input image on wan uses FAL_VIDEO_I2V_MODEL; avatar without an image is a 400', async () => {
    const gw = gateway({ PHI_SCAN: 'off' });
    const { key } = await gw.issueKey({ credits_micro: 2_000_000 });
    const prompt = uniq('i2v');
    const res = await enqueue(gw, key, { prompt, model: 'wan', input_reference: { image_url: 'https://example.com/a.png' }, seconds: '4', size: '720x1280' });
    expect(res.status).toBe(200);
    const [submit] = await falSubmits(prompt);
    expect(submit!.path).toBe('/fal/queue/fal-ai/wan/v2.2-a14b/image-to-video');
    expect(submit!.body).toMatchObject({ image_url: 'https://example.com/a.png', num_frames: 65, frames_per_second: 16, aspect_ratio: '9:16', resolution: '720p' });
    const noImage = await enqueue(gw, key, { prompt: 'x', model: 'avatar', audio_url: 'https://example.com/a.wav' });
    expect(noImage.status).toBe(400);
    expect(await noImage.json()).toMatchObject({ error: { code: 'invalid_request', param: 'image_url' } });
  });

  it('an env override of the fal model between enqueue and poll still polls the original endpoint', async () => {
    const before = gateway();
    const { key } = await before.issueKey({ credits_micro: 1_000_000 });
    const { id } = (await (await enqueue(before, key, { prompt: uniq('override') })).json()) as Video;
    const after = gateway({ FAL_VIDEO_MODEL: 'fal-ai/some-new/video-model' });
    const { video } = await pollUntilDone(after, key, id);
    expect(video.status).toBe('completed');
  });

  it('rejects bad video input with 400 naming the field', async () => {
    const gw = gateway();
    const { key, account } = await gw.issueKey({ credits_micro: 1_000_000 });
    const cases: [Record<string, unknown>, string][] = [
      [{}, 'prompt'],
      [{ prompt: 'x', seconds: 13 }, 'seconds'],
      [{ prompt: 'x', seconds: 0.5 }, 'seconds'],
      [{ prompt: 'x', seconds: 'four' }, 'seconds'],
      [{ prompt: 'x', size: '1000x1000' }, 'size'],
      [{ prompt: 'x', frames: 64 }, 'frames'],
      [{ prompt: 'x', image_url: 'ftp://x' }, 'image_url'],
    ];
    for (const [body, param] of cases) {
      const res = await enqueue(gw, key, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(await res.json()).toMatchObject({ error: { param } });
    }
    expect(await gw.balance(account)).toMatchObject({ held_micro: 0 });
  });

  it('Idempotency-Key on enqueue returns the same job and holds once', async () => {
    const gw = gateway();
    const { key, account } = await gw.issueKey({ credits_micro: 1_000_000 });
    const body = { prompt: uniq('idem video') };
    const a = (await (await enqueue(gw, key, body, '/v1/videos', { 'idempotency-key': 'v-1' })).json()) as Video;
    const b = (await (await enqueue(gw, key, body, '/v1/videos', { 'idempotency-key': 'v-1' })).json()) as Video;
    expect(b.id).toBe(a.id);
    expect(await falSubmits(body.prompt)).toHaveLength(1);
    expect((await gw.balance(account)).held_micro).toBe(363_000);
  });
});

describe('video: test key → ComfyUI worker', () => {
  it('wan → bernini workflow, $0, content through the gateway, no worker URL', async () => {
    const gw = gateway({ MEDIA: undefined });
    const { key } = await gw.issueKey({ tier: 'test', rpm: 100 });
    const prompt = uniq('worker video');
    const res = await enqueue(gw, key, { prompt, model: 'bernini', seconds: 2 });
    const video = (await res.json()) as Video;
    expect(video).toMatchObject({ status: 'queued', model: 'wan' });
    const done = await pollUntilDone(gw, key, video.id);
    expect(done.video.status).toBe('completed');
    expect(done.res.headers.get('x-phi-cost-micro')).toBe('0');
    expect(JSON.stringify(done.video)).not.toContain(new URL(workerOrigin()).host);
    expect(done.video.url).toMatch(/^https:\/\/gw\.test\/v1\/media\/w_/);
    const content = await gw.authed(key, `/v1/videos/${video.id}/content`);
    expect(isMp4(new Uint8Array(await content.arrayBuffer()))).toBe(true);
    const [call] = await standinCalls(workerOrigin(), (c) => c.path.endsWith('/prompt') && JSON.stringify(c.body).includes(prompt));
    const graph = (call!.body as { prompt: Record<string, { class_type: string; inputs: Record<string, unknown> }> }).prompt;
    expect(Object.values(graph).find((n) => n.class_type === 'EmptyHunyuanLatentVideo')!.inputs).toMatchObject({ length: 33, width: 1280, height: 720 });
    expect(Object.values(graph).some((n) => n.class_type === 'SaveVideo')).toBe(true);
  });

  it('openai SDK multipart with an uploaded portrait and audio → InfiniteTalk (gifs output)', async () => {
    const gw = gateway({ MEDIA: undefined });
    const { key } = await gw.issueKey({ tier: 'test', rpm: 100 });
    const client = gw.openai(key);
    const prompt = uniq('talking head');
    const portrait = new File([PNG_BYTES], 'face.png', { type: 'image/png' });
    const audio = new File([wavBytes()], 'voice.wav', { type: 'audio/wav' });
    const created = await client.videos.create({ prompt, input_reference: portrait, seconds: '4', audio } as never);
    expect(created).toMatchObject({ status: 'queued', model: 'avatar' });
    const uploads = await standinCalls(workerOrigin(), (c) => c.path.endsWith('/upload/image'));
    expect(uploads.length).toBeGreaterThanOrEqual(2);
    const [call] = await standinCalls(workerOrigin(), (c) => c.path.endsWith('/prompt') && JSON.stringify(c.body).includes(prompt));
    const graph = (call!.body as { prompt: Record<string, { class_type: string; inputs: Record<string, unknown> }> }).prompt;
    const nodes = Object.values(graph);
    expect(nodes.find((n) => n.class_type === 'LoadImage')!.inputs.image).toMatch(/^phi_.*\.png$/);
    expect(nodes.find((n) => n.class_type === 'LoadAudio')!.inputs.audio).toMatch(/^phi_.*\.wav$/);
    let video = await client.videos.retrieve(created.id);
    while (video.status === 'queued' || video.status === 'in_progress') {
      await sleep(150);
      video = await client.videos.retrieve(created.id);
    }
    expect(video.status).toBe('completed');
    const bytes = new Uint8Array(await (await client.videos.downloadContent(created.id)).arrayBuffer());
    expect(isMp4(bytes)).toBe(true);
  });

  it('a worker execution error → failed video', async () => {
    const gw = gateway();
    const { key } = await gw.issueKey({ tier: 'test', rpm: 100 });
    const { id } = (await (await enqueue(gw, key, { prompt: `${uniq('oom')} #comfy-error` })).json()) as Video;
    const { video } = await pollUntilDone(gw, key, id);
    expect(video).toMatchObject({ status: 'failed', error: { code: 'generation_failed' } });
  });
});
