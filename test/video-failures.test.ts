// Issue 24, part 1: no hold outlives a dead job. A COMPLETED job whose result can never be delivered (no video,
// null, not an MP4, zero seconds, a refused host, over the size cap) ends at once — failed with `no_usable_video`,
// its hold released in the settle, nothing charged, `video.failed` sent, the watcher done; a provider that answers
// nonsense or 5xx, or never finishes, keeps the job running until VIDEO_JOB_DEADLINE_SEC, when the gateway cancels
// it at the provider and fails it the same way — and a result that arrives later is not charged.
import { createMessageBatch } from 'cloudflare:test';
import { describe, expect, inject, it } from 'vitest';
import { consume } from '../src/jobs/consumer';
import { decodeJob } from '../src/jobs/id';
import type { JobMessage } from '../src/jobs/queue';
import { eventually, falOrigin, gateway, PNG_BYTES, standinCalls, TEST_API_KEY, uniq, wavBytes, type Gateway } from './helpers';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
type Video = { id: string; status: string; error: { code: string; message: string } | null; cost_micro?: number };
const b64 = (b: Uint8Array) => btoa(String.fromCharCode(...b));

/** A gateway whose JOBS queue is captured; `look` hands the queued watcher looks to the real consumer. */
function captured(overrides: Record<string, unknown> = {}) {
  const queued: { body: JobMessage; delaySeconds?: number }[] = [];
  const JOBS = { send: async (body: JobMessage, opts?: { delaySeconds?: number }) => void queued.push({ body, delaySeconds: opts?.delaySeconds }) };
  const gw = gateway({ JOBS, ALLOW_INSECURE_URLS: 'true', ...overrides });
  let n = 0;
  const pump = async (t: JobMessage['t']) => {
    const take = queued.filter((q) => q.body.t === t);
    for (const q of take) queued.splice(queued.indexOf(q), 1);
    if (take.length) await consume(createMessageBatch<JobMessage>('phi-gateway-jobs', take.map((q) => ({ id: `m${n++}`, timestamp: new Date(), attempts: 1, body: q.body }))), gw.env);
    return take.length;
  };
  /** Watcher looks until it stops re-queueing the job (it ended), a short pause between looks; the number taken. */
  const watchToEnd = async (max = 80) => {
    for (let i = 1; i <= max; i++) {
      await pump('watch');
      if (!queued.some((q) => q.body.t === 'watch')) return i;
      await sleep(100);
    }
    throw new Error('the watcher never let go of the job');
  };
  return { gw, queued, pump, watchToEnd };
}

/** A paid account with its webhook endpoint on the receiver stand-in. */
async function account(gw: Gateway, credits = 2_000_000) {
  const issued = await gw.issueKey({ credits_micro: credits });
  const hook = uniq('hook');
  const put = await gw.admin(`/admin/accounts/${issued.account}/webhook`, { method: 'PUT', body: JSON.stringify({ url: `${inject('receiverUrl')}/hook/${hook}` }) });
  expect(put.status).toBe(200);
  return { ...issued, hook };
}

async function enqueue(gw: Gateway, key: string, body: Record<string, unknown>): Promise<Video> {
  const res = await gw.authed(key, '/v1/videos', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as Video;
}

const deliveries = async (hook: string) =>
  ((await (await fetch(`${inject('receiverUrl')}/__deliveries/${hook}`)).json()) as { body: string }[]).map((d) => JSON.parse(d.body) as { type: string; data: { id: string } });

/** What a customer sees of a failed job: the poll, the content, the money, the webhook. */
async function expectFailedJob(c: ReturnType<typeof captured>, who: { key: string; account: string; hook?: string }, id: string, code: string, credits: number) {
  const { gw } = c;
  const poll = await gw.authed(who.key, `/v1/videos/${id}`);
  expect(poll.status).toBe(200);
  const video = (await poll.json()) as Video;
  expect(video).toMatchObject({ id, status: 'failed', error: { code } });
  expect(video.error!.message).not.toMatch(/https?:|127\.0\.0\.1|fal\.media/); // never a URL
  const content = await gw.authed(who.key, `/v1/videos/${id}/content`);
  expect(content.status).toBe(409);
  expect(content.headers.get('x-should-retry')).toBe('false');
  expect(((await content.json()) as { error: { code: string } }).error.code).toBe('video_not_ready');
  expect(await gw.balance(who.account)).toMatchObject({ balance_micro: credits, held_micro: 0, available_micro: credits, charges: 0, spent_micro: 0 });
  if (who.hook) {
    // One event, queued by the settle that ended the job; delivered by the consumer.
    expect(c.queued.filter((q) => q.body.t === 'webhook')).toHaveLength(1);
    await c.pump('webhook');
    expect(await deliveries(who.hook)).toEqual([expect.objectContaining({ type: 'video.failed', data: { id } })]);
  }
  return video;
}

const UNUSABLE: [string, string][] = [
  ['no video in the result ({"seed":1})', '#fal-shape-no-video'],
  ['a null result', '#fal-shape-null-result'],
  ['a video that is a bare string', '#fal-shape-video-string'],
  ['bytes that are not an MP4', '#fal-html'],
  ['an MP4 of zero seconds', '#fal-zero-duration'],
  ['a URL outside FAL_MEDIA_HOSTS', '#fal-foreign-url'],
  ['a file over the 512 MiB cap', '#fal-huge-629145600'],
];

describe('a COMPLETED job with no usable video ends failed at once: hold released, nothing charged, video.failed, watcher done', () => {
  it.each(UNUSABLE.flatMap(([what, marker]) => [[what, marker, 'bound'] as const, [what, marker, 'unbound'] as const]))('%s (%s, MEDIA %s)', async (_, marker, media) => {
    const c = captured(media === 'bound' ? {} : { MEDIA: undefined });
    const who = await account(c.gw);
    const { id } = await enqueue(c.gw, who.key, { model: 'wan', prompt: `${uniq('unusable')} ${marker}`, seconds: '4' });
    expect((await c.gw.balance(who.account)).held_micro).toBe(363_000);
    await c.watchToEnd();
    const video = await expectFailedJob(c, who, id, 'no_usable_video', 2_000_000);
    expect(video.error!.message).toMatch(/no usable video/);
    // Ended: a later look (a retried message, fal's webhook) changes nothing and re-queues nothing.
    expect(c.queued.filter((q) => q.body.t === 'watch')).toHaveLength(0);
    await c.pump('watch');
  });

  it('the avatar route too (InfiniTalk), and the reason is in the message', async () => {
    const c = captured({ MEDIA: undefined });
    const who = await account(c.gw);
    const { id } = await enqueue(c.gw, who.key, {
      model: 'avatar',
      prompt: `${uniq('avatar')} #fal-zero-duration`,
      seconds: '4',
      image_url: `data:image/png;base64,${b64(PNG_BYTES)}`,
      audio_url: `data:audio/wav;base64,${b64(wavBytes(200))}`,
    });
    expect((await c.gw.balance(who.account)).held_micro).toBe(888_800);
    await c.watchToEnd();
    const video = await expectFailedJob(c, who, id, 'no_usable_video', 2_000_000);
    expect(video.error!.message).toContain('duration is zero');
  });

  it.each(['#comfy-not-mp4', '#comfy-zero-duration'])('the worker tier (%s): failed, the watcher done', async (marker) => {
    for (const media of ['bound', 'unbound']) {
      const c = captured(media === 'bound' ? {} : { MEDIA: undefined });
      const res = await c.gw.authed(TEST_API_KEY, '/v1/videos', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: `${uniq('worker')} ${marker}`, seconds: 2 }) });
      expect(res.status).toBe(200);
      const { id } = (await res.json()) as Video;
      await c.watchToEnd();
      const video = (await (await c.gw.authed(TEST_API_KEY, `/v1/videos/${id}`)).json()) as Video;
      expect(video, media).toMatchObject({ status: 'failed', error: { code: 'no_usable_video' } });
      const content = await c.gw.authed(TEST_API_KEY, `/v1/videos/${id}/content`);
      expect(content.status).toBe(409);
      expect(content.headers.get('x-should-retry')).toBe('false');
    }
  });

  it('concurrent polls, the watcher and a second look racing to end it: one settle, one event, the hold released once', async () => {
    const c = captured({ MEDIA: undefined });
    const who = await account(c.gw, 2_000_000);
    const jobs = await Promise.all(Array.from({ length: 3 }, () => enqueue(c.gw, who.key, { model: 'wan', prompt: `${uniq('race')} #fal-shape-no-video`, seconds: '4' })));
    expect((await c.gw.balance(who.account)).held_micro).toBe(3 * 363_000);
    // Two status polls make each COMPLETED; then everyone looks at once.
    for (let i = 0; i < 2; i++) await Promise.all(jobs.map(({ id }) => c.gw.authed(who.key, `/v1/videos/${id}`)));
    const polls = await Promise.all([...jobs, ...jobs, ...jobs].map(({ id }) => c.gw.authed(who.key, `/v1/videos/${id}`).then((r) => r.json() as Promise<Video>)));
    await c.watchToEnd();
    expect(polls.map((v) => v.status)).toEqual(Array(9).fill('failed'));
    expect(await c.gw.balance(who.account)).toMatchObject({ balance_micro: 2_000_000, held_micro: 0, charges: 0 });
    const events = c.queued.filter((q) => q.body.t === 'webhook').map((q) => (q.body as { event: { data: { id: string } } }).event.data.id);
    expect(events.sort()).toEqual(jobs.map((j) => j.id).sort());
  });

  it('a poll ends it too (no watcher): 200 with the failed Video object, and the same on every later poll', async () => {
    const gw = gateway({ MEDIA: undefined });
    const { key, account: acct } = await gw.issueKey({ credits_micro: 1_000_000 });
    const { id } = await enqueue(gw, key, { model: 'wan', prompt: `${uniq('polled')} #fal-shape-no-video`, seconds: '4' });
    let video: Video;
    for (let i = 0; ; i++) {
      const res = await gw.authed(key, `/v1/videos/${id}`);
      expect(res.status).toBe(200);
      video = (await res.json()) as Video;
      if (video.status === 'failed') break;
      expect(i).toBeLessThan(40);
      await sleep(100);
    }
    expect(video.error?.code).toBe('no_usable_video');
    expect(await gw.balance(acct)).toMatchObject({ balance_micro: 1_000_000, held_micro: 0, charges: 0 });
    expect(((await (await gw.authed(key, `/v1/videos/${id}`)).json()) as Video).status).toBe('failed');
  });
});

describe('VIDEO_JOB_DEADLINE_SEC: a job that never finishes, or whose status cannot be read, is cancelled and failed', () => {
  const cancels = async (id: string, acct: string, gw: Gateway) => {
    const job = (await decodeJob(gw.env.SIGNING_SECRET!, id, acct))!;
    return standinCalls(falOrigin(), (call) => call.method === 'PUT' && call.path.endsWith(`/requests/${job.r}/cancel`)).then((calls) => calls.length);
  };

  it.each([
    ['endless IN_PROGRESS', '#fal-hang'],
    ['a status of null', '#fal-shape-null-status'],
    ['an unknown status value', '#fal-shape-status-unknown'],
    ['fal answering 500 on the status', '#fal-status-500'],
  ])('%s: in progress (or the provider error) until the deadline, then failed, cancelled at fal, hold released, video.failed', async (_, marker) => {
    // 4 s (counted in whole seconds from creation: 3 s at least) leave the early poll below time enough to come
    // before the deadline however busy the machine; the watcher's looks (≥ 100 ms apart) then outlast it.
    const c = captured({ MEDIA: undefined, VIDEO_JOB_DEADLINE_SEC: '4' });
    const who = await account(c.gw);
    const { id } = await enqueue(c.gw, who.key, { model: 'wan', prompt: `${uniq('deadline')} ${marker}`, seconds: '4' });
    // Before the deadline the job is not ended: a poll answers in progress or the provider's mapped error.
    const early = await c.gw.authed(who.key, `/v1/videos/${id}`);
    if (early.status === 200) expect(((await early.json()) as Video).status).toMatch(/queued|in_progress/);
    else expect([502, 503, 504]).toContain(early.status);
    expect((await c.gw.balance(who.account)).held_micro).toBe(363_000);
    // The watcher keeps looking (a provider failure is not the queue's to retry) until the deadline ends it.
    const looks = await c.watchToEnd(200);
    expect(looks).toBeGreaterThan(1);
    await expectFailedJob(c, who, id, 'deadline_exceeded', 2_000_000);
    expect(await cancels(id, who.account, c.gw)).toBe(1);
  });

  it('a result that arrives after the deadline is not charged (fal ignores the cancel and completes; its webhook is received)', async () => {
    const c = captured({ MEDIA: undefined, VIDEO_JOB_DEADLINE_SEC: '1' });
    const who = await account(c.gw);
    const { id } = await enqueue(c.gw, who.key, { model: 'wan', prompt: `${uniq('late')} #fal-slow #fal-uncancellable`, seconds: '4' });
    const job = (await decodeJob(c.gw.env.SIGNING_SECRET!, id, who.account))!;
    // Past the deadline (1 s, counted in whole seconds from its creation) the first look ends it.
    for (let i = 0; Math.floor(Date.now() / 1000) < job.t + 1; i++) await sleep(100);
    expect((await (await c.gw.authed(who.key, `/v1/videos/${id}`)).json()) as Video).toMatchObject({ status: 'failed', error: { code: 'deadline_exceeded' } });
    // fal finishes the job anyway (status polls make it COMPLETED), and reports it with its signed webhook.
    const base = `${inject('falQueueUrl')}/${job.e.split('/').slice(0, 2).join('/')}/requests/${job.r}`;
    for (let i = 0; i < 6; i++) await fetch(`${base}/status`, { headers: { authorization: 'Key test-fal-key' } }).then((r) => r.arrayBuffer());
    const result = (await (await fetch(base, { headers: { authorization: 'Key test-fal-key' } })).json()) as { video?: { url: string } };
    expect(result.video?.url).toBeDefined();
    let hook: { url: string; headers: Record<string, string>; body: string } | undefined;
    await eventually(async () => {
      hook = ((await (await fetch(`${falOrigin()}/__webhooks?request_id=${job.r}`)).json()) as (typeof hook)[])[0];
      expect(hook, 'the stand-in has sent its webhook').toBeDefined();
    }, 20_000, 100);
    expect(JSON.parse(hook!.body)).toMatchObject({ status: 'OK' });
    const headers = Object.fromEntries(Object.entries(hook!.headers).filter(([k]) => k.startsWith('x-fal-webhook-') || k === 'content-type'));
    const relayed = await c.gw.fetch(new URL(hook!.url).pathname, { method: 'POST', headers, body: hook!.body });
    expect(relayed.status).toBe(200);
    expect(await relayed.json()).toMatchObject({ received: true, status: 'failed' });
    await c.pump('watch');
    const again = (await (await c.gw.authed(who.key, `/v1/videos/${id}`)).json()) as Video;
    expect(again).toMatchObject({ status: 'failed', error: { code: 'deadline_exceeded' } });
    expect(await c.gw.balance(who.account)).toMatchObject({ balance_micro: 2_000_000, held_micro: 0, charges: 0 });
  });

  it("fal's start deadline is the job's own: X-Fal-Request-Timeout is VIDEO_JOB_DEADLINE_SEC", async () => {
    const gw = gateway({ MEDIA: undefined, VIDEO_JOB_DEADLINE_SEC: '900' });
    const { key } = await gw.issueKey({ credits_micro: 1_000_000 });
    const prompt = uniq('start deadline');
    await enqueue(gw, key, { model: 'wan', prompt, seconds: '4' });
    const [submit] = await standinCalls(falOrigin(), (call) => call.method === 'POST' && (call.body as { prompt?: string } | null)?.prompt === prompt);
    expect(submit!.headers['x-fal-request-timeout']).toBe('900');
  });
});
